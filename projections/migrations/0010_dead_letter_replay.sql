-- Dead letters put back on their original topic by `tsync dlq replay`: one row per dead letter
-- (its DLQ topic, partition and offset), written before the copy is published and committed after
-- Kafka has it, so replaying the same dead letter again publishes nothing.
CREATE TABLE dead_letter_replay (
    dlq_topic      text        NOT NULL,
    dlq_partition  integer     NOT NULL,
    dlq_offset     bigint      NOT NULL,
    consumer       text        NOT NULL,
    source_topic   text        NOT NULL,
    replayed_to    text,
    replayed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
