-- The writers' own tracking rows: a command whose outcome (applied, or skipped: nothing to change)
-- Kafka has stored is written once. A command read again (a consumer-group reset, a redelivered
-- batch) finds its row and is not carried out a second time: a later change may have replaced what
-- it writes. Written by the writers only, after their batch's outcomes are in Kafka; never a
-- projection (the write path reads no read model). Rows older than the command topics' retention
-- cannot be read again and are pruned by the writers.
CREATE TABLE written_command (
    command_id  uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX written_command_tenant ON written_command (tenant_id);
CREATE INDEX written_command_age ON written_command (written_at);
