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
    decisions = [m for m in messages if isinstance(m, DecisionRecord)]
    await links.apply_outcomes(connection, new_outcomes)
    await links.apply_decisions(connection, decisions)
    statuses = [m for m in messages if isinstance(m, SideStatus)]
    await error_log.apply(connection, decisions, new_outcomes, statuses)
    await decision_log.apply(connection, decisions)
