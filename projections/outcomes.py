"""``sync_outcome`` (one row per outcome) and ``sync_status`` (counts per tenant, type and side)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import asyncpg

from contracts.envelope import Outcome

_INSERT = """
INSERT INTO sync_outcome (outcome_id, tenant_id, command_id, correlation_id, source, target, operation,
    entity_type, source_entity_id, target_entity_id, status, rule_id, reason, error_code, error_message,
    occurred_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
    $16::timestamptz[])
ON CONFLICT (outcome_id) DO NOTHING
RETURNING outcome_id, tenant_id, entity_type, target, status, occurred_at
"""

_STATUS = """
INSERT INTO sync_status (tenant_id, entity_type, target, applied, skipped, failed, last_outcome_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant_id, entity_type, target) DO UPDATE SET
    applied = sync_status.applied + EXCLUDED.applied,
    skipped = sync_status.skipped + EXCLUDED.skipped,
    failed = sync_status.failed + EXCLUDED.failed,
    last_outcome_at = GREATEST(sync_status.last_outcome_at, EXCLUDED.last_outcome_at)
"""


async def apply(connection: asyncpg.Connection, outcomes: list[Outcome]) -> list[Outcome]:
    """Insert the outcomes not seen before and count them; returns those that were new."""
    if not outcomes:
        return []
    columns: list[tuple[object, ...]] = list(zip(*(_row(o) for o in outcomes), strict=True))
    inserted = await connection.fetch(_INSERT, *columns)
    # Only rows actually inserted count: a repeat of an outcome already projected counts once.
    new_ids = {row["outcome_id"] for row in inserted}
    per_status: dict[tuple[str, str, str], Counter[str]] = {}
    last_at: dict[tuple[str, str, str], datetime] = {}
    for row in inserted:
        key = (row["tenant_id"], row["entity_type"], row["target"])
        per_status.setdefault(key, Counter())[row["status"]] += 1
        last_at[key] = max(last_at.get(key, row["occurred_at"]), row["occurred_at"])
    await connection.executemany(
        _STATUS,
        [(*key, c["applied"], c["skipped"], c["failed"], last_at[key]) for key, c in per_status.items()],
    )
    return [o for o in outcomes if o.outcome_id in new_ids]


def _row(o: Outcome) -> tuple[object, ...]:
    return (
        o.outcome_id,
        o.tenant_id,
        o.command_id,
        o.correlation_id,
        o.source.value,
        o.target.value,
        o.operation.value,
        o.entity_type.value,
        o.source_entity_id,
        o.target_entity_id,
        o.status.value,
        o.rule_id,
        o.reason,
        o.error_code,
        o.error_message,
        o.occurred_at,
    )
