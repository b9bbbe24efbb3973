-- The tenant registry: which sides each tenant has connected, where their APIs are, and their
-- credentials encrypted at rest (a Fernet token of a JSON object {side: {field: secret}}, sealed
-- with the key TENANT_SECRET_KEYS names first; secrets_key_id is that key's fingerprint, so
-- `tsync tenants rotate-key` knows which rows still use an older key). The credential *names*
-- are kept in clear (credentials_set) so listing tenants needs no key and shows no secret.
--
-- state: active (writes go ahead), paused (writers park the tenant's commands), resuming
-- (`tsync tenants resume` is re-publishing the parked commands in order; new ones keep being
-- parked behind them until all are written).
CREATE TABLE tenant (
    tenant_id           text        PRIMARY KEY,
    svenn_base_url      text,
    drifti_base_url     text,
    tripletex_base_url  text,
    secrets             bytea       NOT NULL,
    secrets_key_id      text        NOT NULL,
    credentials_set     text[]      NOT NULL DEFAULT '{}',
    state               text        NOT NULL DEFAULT 'active'
                                    CHECK (state IN ('active', 'paused', 'resuming')),
    revision            integer     NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Commands a writer received for a paused tenant, kept whole (the original message and record
-- key) in the order they were consumed. `tenants resume` re-publishes them to their command
-- topic (released_at); the writer marks each written (written_at), so a second copy of a
-- command already written is dropped. Rows go once the tenant is active again.
CREATE TABLE parked_command (
    seq          bigserial   PRIMARY KEY,
    tenant_id    text        NOT NULL,
    command_id   uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    record_key   bytea       NOT NULL,
    command      jsonb       NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz,
    written_at   timestamptz
);
CREATE INDEX parked_command_tenant ON parked_command (tenant_id, seq);
