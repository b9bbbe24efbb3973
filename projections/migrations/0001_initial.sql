-- Where each projection has got to in each topic partition. Written in the same transaction
-- as the rows a batch produces, so a redelivered message is recognised and does nothing.
CREATE TABLE projection_position (
    projection   text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);

-- Every outcome a writer reported: what was done (or not) to which record, by which rule, and why.
CREATE TABLE sync_outcome (
    outcome_id        uuid        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    command_id        uuid        NOT NULL,
    correlation_id    uuid        NOT NULL,
    target            text        NOT NULL,
    operation         text        NOT NULL,
    entity_type       text        NOT NULL,
    source_entity_id  text        NOT NULL,
    target_entity_id  text,
    status            text        NOT NULL CHECK (status IN ('applied', 'skipped', 'failed')),
    rule_id           text        NOT NULL,
    reason            text,
    error_code        text,
    error_message     text,
    occurred_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_outcome_record ON sync_outcome (tenant_id, entity_type, source_entity_id);
CREATE INDEX sync_outcome_correlation ON sync_outcome (correlation_id);

-- Sync status per tenant, entity type and target side: counts per outcome and when the last one came.
CREATE TABLE sync_status (
    tenant_id        text        NOT NULL,
    entity_type      text        NOT NULL,
    target           text        NOT NULL,
    applied          bigint      NOT NULL DEFAULT 0,
    skipped          bigint      NOT NULL DEFAULT 0,
    failed           bigint      NOT NULL DEFAULT 0,
    last_outcome_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_type, target)
);
