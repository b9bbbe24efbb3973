-- A tenant's side that stops answering a writer (5xx, timeouts, connection errors, 429 beyond the
-- client's budget, after the client's own retries) no longer holds the writer's batch for every
-- tenant: the tenant's commands for that writer are parked (parked_command, reason 'unreachable')
-- in the order they were consumed, and the writers' probe re-publishes them once the side answers.
--
-- One row per tenant and writer (target: whose commands wait); side is the API that did not
-- answer (tripletex, svenn, drifti). state: open (parking, probing), releasing (the parked
-- commands are re-published; new ones are parked behind them until all are written, then the row
-- goes). since: when the side stopped answering; reported_at: when API_UNREACHABLE was published.
CREATE TABLE side_outage (
    tenant_id      text        NOT NULL,
    target         text        NOT NULL,
    side           text        NOT NULL,
    state          text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'releasing')),
    since          timestamptz NOT NULL DEFAULT now(),
    last_error     text        NOT NULL,
    probes         integer     NOT NULL DEFAULT 0,
    next_probe_at  timestamptz NOT NULL DEFAULT now(),
    reported_at    timestamptz,
    PRIMARY KEY (tenant_id, target)
);

-- Why a command is parked: the tenant is paused (`tsync tenants resume` releases it), or its side
-- does not answer (the writers' probe releases it). Each kind is released by its own mechanism.
ALTER TABLE parked_command ADD COLUMN reason text NOT NULL DEFAULT 'paused'
    CHECK (reason IN ('paused', 'unreachable'));
CREATE INDEX parked_command_unreachable ON parked_command (tenant_id, topic, seq) WHERE reason = 'unreachable';
