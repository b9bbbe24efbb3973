"""What each panel view reads, always for one tenant: the tenant id is the first parameter of every query.

The read models are the projections' tables (``sync_status``, ``error_log``, ``link``,
``decision_log``); nothing here writes. A link is two directed rows; ``system < other_system``
picks one row per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import asyncpg

from contracts.error_codes import CATALOG, ErrorCode

ErrorState = Literal["open", "resolved", "all"]
LIMIT = 200


@dataclass
class EntitySummary:
    entity_type: str
    to_tripletex: asyncpg.Record | None = None
    to_svenn: asyncpg.Record | None = None
    open_errors: int = 0
    linked: int = 0
    broken: int = 0


@dataclass
class Overview:
    entities: list[EntitySummary] = field(default_factory=list)
    open_errors: int = 0
    last_decision_at: datetime | None = None


async def overview(db: asyncpg.Pool, tenant_id: str) -> Overview:
    summaries: dict[str, EntitySummary] = {}

    def of(entity_type: str) -> EntitySummary:
        return summaries.setdefault(entity_type, EntitySummary(entity_type))

    for row in await db.fetch(
        """SELECT entity_type, target, applied, skipped, failed, last_outcome_at FROM sync_status
           WHERE tenant_id = $1""",
        tenant_id,
    ):
        if row["target"] == "tripletex":
            of(row["entity_type"]).to_tripletex = row
        elif row["target"] == "svenn":
            of(row["entity_type"]).to_svenn = row
    for row in await db.fetch(
        """SELECT entity_type, count(*) AS n FROM error_log
           WHERE tenant_id = $1 AND resolved_at IS NULL GROUP BY entity_type""",
        tenant_id,
    ):
        of(row["entity_type"]).open_errors = row["n"]
    for row in await db.fetch(
        """SELECT entity_type, count(*) FILTER (WHERE state = 'linked') AS linked,
                  count(*) FILTER (WHERE state = 'broken') AS broken
           FROM link WHERE tenant_id = $1 AND system < other_system GROUP BY entity_type""",
        tenant_id,
    ):
        of(row["entity_type"]).linked, of(row["entity_type"]).broken = row["linked"], row["broken"]
    last = await db.fetchval("SELECT max(decided_at) FROM decision_log WHERE tenant_id = $1", tenant_id)
    entities = [summaries[k] for k in sorted(summaries)]
    return Overview(entities, sum(e.open_errors for e in entities), last)


@dataclass(frozen=True)
class ErrorFilter:
    code: str | None = None
    side: str | None = None
    entity: str | None = None
    record: str | None = None
    state: ErrorState = "open"


@dataclass(frozen=True)
class ErrorEntry:
    system: str
    entity_type: str
    entity_id: str
    error_code: str
    rule_id: str
    detail: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    resolved_at: datetime | None
    catalog: ErrorCode | None


async def errors(db: asyncpg.Pool, tenant_id: str, wanted: ErrorFilter) -> list[ErrorEntry]:
    rows = await db.fetch(
        """SELECT system, entity_type, entity_id, error_code, rule_id, detail, first_seen, last_seen,
                  occurrences, resolved_at
           FROM error_log
           WHERE tenant_id = $1
             AND ($2::text IS NULL OR error_code = $2)
             AND ($3::text IS NULL OR system = $3)
             AND ($4::text IS NULL OR entity_type = $4)
             AND ($5::text IS NULL OR entity_id = $5)
             AND CASE $6::text WHEN 'open' THEN resolved_at IS NULL
                               WHEN 'resolved' THEN resolved_at IS NOT NULL ELSE true END
           ORDER BY last_seen DESC LIMIT $7""",
        tenant_id,
        wanted.code,
        wanted.side,
        wanted.entity,
        wanted.record,
        wanted.state,
        LIMIT,
    )
    return [ErrorEntry(**dict(r), catalog=CATALOG.get(r["error_code"])) for r in rows]


async def has_error(db: asyncpg.Pool, tenant_id: str, side: str, entity_type: str, entity_id: str) -> bool:
    """Retry is offered for records in the tenant's error log only (and only the tenant's)."""
    found = await db.fetchval(
        """SELECT 1 FROM error_log
           WHERE tenant_id = $1 AND system = $2 AND entity_type = $3 AND entity_id = $4 LIMIT 1""",
        tenant_id,
        side,
        entity_type,
        entity_id,
    )
    return found is not None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def links(db: asyncpg.Pool, tenant_id: str, search: str | None) -> list[asyncpg.Record]:
    """Link pairs, searched by either side's id, the number or the name they were last synced with."""
    rows: list[asyncpg.Record] = await db.fetch(
        """SELECT entity_type, system, entity_id, other_system, other_id, state, linked_at, synced_at,
                  name, number
           FROM (SELECT l.entity_type, l.system, l.entity_id, l.other_system, l.other_id, l.state,
                        l.linked_at, l.synced_at,
                        coalesce(l.synced_snapshot->>'name',
                                 concat_ws(' ', l.synced_snapshot->>'first_name',
                                           l.synced_snapshot->>'last_name')) AS name,
                        coalesce(l.number, l.synced_snapshot->>'number',
                                 l.synced_snapshot->>'customer_number',
                                 l.synced_snapshot->>'employee_number') AS number
                 FROM link l WHERE l.tenant_id = $1 AND l.system < l.other_system) pairs
           WHERE $2::text IS NULL
              OR entity_id ILIKE $2 OR other_id ILIKE $2 OR number ILIKE $2 OR name ILIKE $2
           ORDER BY entity_type, number NULLS LAST, entity_id LIMIT $3""",
        tenant_id,
        _like(search.strip()) if search and search.strip() else None,
        LIMIT,
    )
    return rows


async def decisions(
    db: asyncpg.Pool, tenant_id: str, entity_id: str | None = None, verdict: str | None = None
) -> list[asyncpg.Record]:
    """The newest decisions first (the table keeps a bounded number per tenant)."""
    rows: list[asyncpg.Record] = await db.fetch(
        """SELECT decided_at, source, entity_type, entity_id, rule_id, verdict, reason, error_code,
                  link_effect
           FROM decision_log
           WHERE tenant_id = $1 AND ($2::text IS NULL OR entity_id = $2)
             AND ($3::text IS NULL OR verdict = $3)
           ORDER BY decided_at DESC, seq DESC LIMIT $4""",
        tenant_id,
        entity_id or None,
        verdict or None,
        LIMIT,
    )
    return rows
