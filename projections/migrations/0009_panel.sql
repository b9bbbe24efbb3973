-- Recent decisions per tenant, with the rule that produced each, for the integration panel.
-- Bounded: the projections keep about the newest 2000 rows per tenant (projections/decision_log.py),
-- deleting older ones in the same transaction; the full history stays on sync.decisions.v1.
CREATE TABLE decision_log (
    seq              bigint      GENERATED ALWAYS AS IDENTITY,
    decision_id      uuid        PRIMARY KEY,
    tenant_id        text        NOT NULL,
    cause_event_id   uuid        NOT NULL,
    source           text        NOT NULL,
    entity_type      text        NOT NULL,
    entity_id        text        NOT NULL,
    rule_id          text        NOT NULL,
    verdict          text        NOT NULL,
    reason           text        NOT NULL,
    error_code       text,
    link_effect      text        NOT NULL,
    decided_at       timestamptz NOT NULL
);
-- The panel's order and the trim's cut-off; a filter by record reads at most the bound per tenant.
CREATE INDEX decision_log_recent ON decision_log (tenant_id, decided_at DESC, seq DESC);
-- Rows added per tenant since its last trim: the trim runs when a tenant has gained a tenth of
-- its bound, not on every batch (finding the cut-off reads the tenant's whole bound of index).
CREATE TABLE decision_log_tenant (
    tenant_id         text     PRIMARY KEY,
    added_since_trim  integer  NOT NULL
);

-- Who may open a tenant's integration panel: access tokens, stored as SHA-256 hashes only.
-- `tsync panel grant` prints a token once; `tsync panel revoke` ends it (and its sessions).
CREATE TABLE panel_access (
    access_id    text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    token_hash   text        NOT NULL UNIQUE,
    label        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX panel_access_tenant ON panel_access (tenant_id);
