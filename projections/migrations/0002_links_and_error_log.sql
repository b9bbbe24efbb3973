-- Link table: which record on one side is which record on the other. Each link is stored as two
-- directed rows, so the decision looks a record up by (tenant, type, its side, its id) in one probe.
CREATE TABLE link (
    tenant_id        text        NOT NULL,
    entity_type      text        NOT NULL,
    system           text        NOT NULL,
    entity_id        text        NOT NULL,
    other_system     text        NOT NULL,
    other_id         text        NOT NULL,
    number           text,
    state            text        NOT NULL CHECK (state IN ('linked', 'broken')),
    -- content hash of what the engine last wrote to this record (echo suppression)
    last_written     text,
    linked_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_type, system, entity_id)
);
CREATE INDEX link_other ON link (tenant_id, entity_type, other_system, other_id);

-- Error log (S-X1): one entry per record and error code; it resolves itself when the record later syncs.
CREATE TABLE error_log (
    tenant_id         text        NOT NULL,
    system            text        NOT NULL,
    entity_type       text        NOT NULL,
    entity_id         text        NOT NULL,
    error_code        text        NOT NULL,
    rule_id           text        NOT NULL,
    detail            text        NOT NULL,
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    occurrences       integer     NOT NULL DEFAULT 1,
    resolved_at       timestamptz,
    last_message_id   uuid        NOT NULL,
    PRIMARY KEY (tenant_id, system, entity_type, entity_id, error_code)
);
CREATE INDEX error_log_open ON error_log (tenant_id, error_code) WHERE resolved_at IS NULL;

-- Which side the record an outcome concerns lives on (the writer's target is the other side).
ALTER TABLE sync_outcome ADD COLUMN source text;
