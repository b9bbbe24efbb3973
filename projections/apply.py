"""What projecting a batch of outcomes and decisions means, once: the live consumer and the
rebuild (``projections.rebuild``) both call this, so a rebuilt table cannot drift from a live one.
A table written here must also be in ``projections.rebuild.TABLES``, so a rebuild clears it first."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from contracts.envelope import DecisionRecord, Outcome, SideStatus
from projections import decision_log, error_log, links, outcomes


async def apply_messages(
    connection: asyncpg.Connection, messages: Sequence[Outcome | DecisionRecord | SideStatus]
) -> None:
    """Outcomes first (rows, counts, links), then decisions (link breaks/restores), then the logs
    (side statuses open and resolve ``API_UNREACHABLE``)."""
    new_outcomes = await outcomes.apply(connection, [m for m in messages if isinstance(m, Outcome)])
    decisions = await _new_decisions(connection, [m for m in messages if isinstance(m, DecisionRecord)])
    await links.apply_outcomes(connection, new_outcomes)
    await links.apply_decisions(connection, decisions)
    statuses = [m for m in messages if isinstance(m, SideStatus)]
    await error_log.apply(connection, decisions, new_outcomes, statuses)
    await decision_log.apply(connection, decisions)


async def _new_decisions(
    connection: asyncpg.Connection, decisions: Sequence[DecisionRecord]
) -> list[DecisionRecord]:
    """Each decision once, the first to arrive: a change read again is decided again under the same
    id (``services.decision.consumer.DECIDED``), and its link effect or error must not apply again."""
    first: dict[object, DecisionRecord] = {}
    for d in decisions:
        first.setdefault(d.decision_id, d)
    if not first:
        return []
    known = {
        r["decision_id"]
        for r in await connection.fetch(
            "SELECT decision_id FROM decision_log WHERE decision_id = ANY($1::uuid[])", list(first)
        )
    }
    return [d for d in first.values() if d.decision_id not in known]
