"""The error log (S-X1): one entry per record and error code, opened by a rejection or a failed
write, counted on repeats, and resolved when the same record later syncs.

A side that stays unreachable (``SideStatus`` from a writer) is one ``API_UNREACHABLE`` entry per
tenant and side (entity type ``connection``), resolved by the status saying it answers again.

"Later syncs" means: a rule rejection resolves when a later decision about the record is no
longer a rejection (the user fixed it); a failed write resolves when a later write of the record
is applied. One rejection is settled on the other side: a Svenn user's deactivation of a customer
(S-C3) resolves when Tripletex deactivates it too and that reaches Svenn. Times, not arrival
order, decide what is later, so a batch mixing topics is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from contracts.entities import CustomerSnapshot
from contracts.envelope import (
    DecisionRecord,
    EntityType,
    Outcome,
    OutcomeStatus,
    SideStatus,
    SourceSystem,
    Verdict,
)
from contracts.error_codes import (
    API_UNREACHABLE,
    CUSTOMER_DEACTIVATE_IN_TRIPLETEX,
    RULE_CODES,
    TRIPLETEX_WEBHOOKS_OFF,
    WRITE_CODES,
)

# A side that stays unreachable is one entry per tenant and side (S-X1), not one per record: entity
# type ``connection``, the side's name as its id.
CONNECTION = "connection"
UNREACHABLE_RULE = "S-X1"

_OPEN = """
INSERT INTO error_log (tenant_id, system, entity_type, entity_id, error_code, rule_id, detail,
    first_seen, last_seen, last_message_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
ON CONFLICT (tenant_id, system, entity_type, entity_id, error_code) DO UPDATE SET
    occurrences = error_log.occurrences + 1,
    detail = EXCLUDED.detail,
    rule_id = EXCLUDED.rule_id,
    last_seen = GREATEST(error_log.last_seen, EXCLUDED.last_seen),
    resolved_at = CASE WHEN EXCLUDED.last_seen >= coalesce(error_log.resolved_at, EXCLUDED.last_seen)
                       THEN NULL ELSE error_log.resolved_at END,
    last_message_id = EXCLUDED.last_message_id
WHERE error_log.last_message_id <> EXCLUDED.last_message_id
"""

_RESOLVE = """
UPDATE error_log SET resolved_at = $6
WHERE tenant_id = $1 AND system = $2 AND entity_type = $3 AND entity_id = $4
  AND resolved_at IS NULL AND last_seen <= $6 AND error_code = ANY($5::text[])
"""


async def apply(
    connection: asyncpg.Connection,
    decisions: Iterable[DecisionRecord],
    outcomes: Iterable[Outcome],
    statuses: Iterable[SideStatus] = (),
) -> None:
    events: list[tuple[datetime, str, tuple[object, ...]]] = []
    for s in statuses:
        code, entity_id = status_entry(s)
        side: tuple[object, ...] = (s.tenant_id, s.side.value, CONNECTION, entity_id)
        if s.reachable:
            events.append((s.occurred_at, "resolve", (*side, [code], s.occurred_at)))
        else:
            opened = (*side, code, UNREACHABLE_RULE, s.detail, s.occurred_at, s.status_id)
            events.append((s.occurred_at, "open", opened))
    for d in decisions:
        where = (d.tenant_id, d.source.value, d.entity_type.value, d.entity_id)
        if d.verdict is Verdict.REJECT and d.error_code:
            events.append(
                (
                    d.decided_at,
                    "open",
                    (*where, d.error_code, d.rule_id, d.reason, d.decided_at, d.decision_id),
                )
            )
        else:
            events.append((d.decided_at, "resolve", (*where, sorted(RULE_CODES), d.decided_at)))
    for o in outcomes:
        where = (o.tenant_id, o.source.value, o.entity_type.value, o.source_entity_id)
        if o.status is OutcomeStatus.FAILED and o.error_code:
            detail = o.error_message or o.reason or o.error_code
            events.append(
                (
                    o.occurred_at,
                    "open",
                    (*where, o.error_code, o.rule_id, detail, o.occurred_at, o.outcome_id),
                )
            )
        elif o.status is OutcomeStatus.APPLIED:
            events.append((o.occurred_at, "resolve", (*where, sorted(WRITE_CODES), o.occurred_at)))
            if _deactivated_in_svenn_from_tripletex(o):
                # S-C3: the Svenn user wanted the customer inactive and Tripletex now says so too.
                twin = (o.tenant_id, o.target.value, o.entity_type.value, o.target_entity_id)
                events.append(
                    (o.occurred_at, "resolve", (*twin, [CUSTOMER_DEACTIVATE_IN_TRIPLETEX], o.occurred_at))
                )
    for _, kind, args in sorted(events, key=lambda e: e[0]):
        await connection.execute(_OPEN if kind == "open" else _RESOLVE, *args)


def _deactivated_in_svenn_from_tripletex(o: Outcome) -> bool:
    """An applied Tripletex → Svenn write that leaves the customer inactive in Svenn (S-C3, S-C5)."""
    return (
        o.source is SourceSystem.TRIPLETEX
        and o.target is SourceSystem.SVENN
        and o.entity_type is EntityType.CUSTOMER
        and o.target_entity_id is not None
        and isinstance(o.written, CustomerSnapshot)
        and not o.written.active
    )


def status_entry(s: SideStatus) -> tuple[str, str]:
    """(error code, entity id) of a side status's one entry per tenant and side (entity type
    ``connection``): the side's name for "does not answer", ``<side>-webhooks`` for webhooks off."""
    if s.problem == "webhooks_off":
        return TRIPLETEX_WEBHOOKS_OFF, f"{s.side.value}-webhooks"
    return API_UNREACHABLE, s.side.value
