-- What the decision has just asked a writer to put into a linked record, before the outcome is
-- projected into the link table. The echo of that write can arrive first (webhooks are fast);
-- the decision compares it with the intent, so it is not mistaken for a user's change.
-- Written by the decision itself; derivable from the command topics, so a replay rebuilds it.
CREATE TABLE write_intent (
    tenant_id    text        NOT NULL,
    entity_type  text        NOT NULL,
    system       text        NOT NULL,
    entity_id    text        NOT NULL,
    snapshot     jsonb       NOT NULL,
    issued_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_type, system, entity_id)
);
