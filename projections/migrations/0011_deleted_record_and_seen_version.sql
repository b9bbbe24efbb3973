-- Records deleted on their side while the engine knew them (S-P7: a Tripletex project deleted
-- completes its Svenn twin). Later changes to the twin must neither re-create the deleted record
-- nor update it, also when the delete overtook the link of the record's first sync: so the
-- entry names the twin when known (other_id) and the record's natural key (number:2024.17),
-- which finds the twin until its link is projected. Written by the decision itself, like
-- write_intent; derivable from the change topics, so a replay rebuilds it.
CREATE TABLE deleted_record (
    tenant_id    text        NOT NULL,
    entity_type  text        NOT NULL,
    system       text        NOT NULL,
    entity_id    text        NOT NULL,
    natural_key  text,
    other_id     text,
    deleted_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_type, system, entity_id)
);
CREATE INDEX deleted_record_key ON deleted_record (tenant_id, entity_type, system, natural_key);
CREATE INDEX deleted_record_other ON deleted_record (tenant_id, entity_type, system, other_id);

-- The newest version of each record the decision has decided about, per side. A change with an
-- older version arrived out of order (a webhook retried late, a full pass racing a webhook) and
-- must not overwrite what a newer one synced. Covers records the engine never wrote to (their
-- link's synced_version knows only the engine's own writes).
CREATE TABLE seen_version (
    tenant_id    text        NOT NULL,
    entity_type  text        NOT NULL,
    system       text        NOT NULL,
    entity_id    text        NOT NULL,
    version      bigint      NOT NULL,
    seen_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_type, system, entity_id)
);
