"""Where each catch-up poll resumes: a watermark per tenant, side and resource.

A watermark is a time: every record updated at or after it is read by the next poll. It moves
only after Kafka has confirmed what the poll read, and never backwards. Kept in PostgreSQL
(``catch_up_watermark``) when the ingest has a database, so a restart resumes where the last
poll left off however long the outage was; in memory otherwise (a restart then looks back
``SVENN_POLL_LOOKBACK_S`` / ``DRIFTI_POLL_LOOKBACK_S``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

import asyncpg

from projections.database import Database
from services.core import safe_errors

log = logging.getLogger(__name__)


class WatermarkStore(Protocol):
    async def load(self, tenant_id: str, side: str) -> dict[str, datetime]:
        """The stored watermark of each resource of the tenant's side (none: never polled)."""
        ...

    async def save(self, tenant_id: str, side: str, resource: str, watermark: datetime) -> None:
        """Move a resource's watermark forward (a value behind the stored one changes nothing)."""
        ...


class MemoryWatermarks:
    """The process's own memory: lost at a restart."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], dict[str, datetime]] = {}

    async def load(self, tenant_id: str, side: str) -> dict[str, datetime]:
        return dict(self._rows.get((tenant_id, side), {}))

    async def save(self, tenant_id: str, side: str, resource: str, watermark: datetime) -> None:
        row = self._rows.setdefault((tenant_id, side), {})
        row[resource] = max(row.get(resource, watermark), watermark)


_LOAD = "SELECT resource, watermark FROM catch_up_watermark WHERE tenant_id = $1 AND side = $2"
_SAVE = """
INSERT INTO catch_up_watermark (tenant_id, side, resource, watermark) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, side, resource) DO UPDATE
SET watermark = GREATEST(catch_up_watermark.watermark, EXCLUDED.watermark), updated_at = now()
"""


class PostgresWatermarks:
    """Table ``catch_up_watermark`` (migration 0012), through the pool ``pool()`` gives."""

    def __init__(self, pool: Callable[[], Awaitable[asyncpg.Pool]]) -> None:
        self._pool = pool

    @classmethod
    def of(cls, database: Database) -> PostgresWatermarks:
        """Through a ``Database`` someone else starts (and stops)."""

        async def pool() -> asyncpg.Pool:
            return database.pool

        return cls(pool)

    async def load(self, tenant_id: str, side: str) -> dict[str, datetime]:
        rows = await (await self._pool()).fetch(_LOAD, tenant_id, side)
        return {row["resource"]: row["watermark"] for row in rows}

    async def save(self, tenant_id: str, side: str, resource: str, watermark: datetime) -> None:
        await (await self._pool()).execute(_SAVE, tenant_id, side, resource, watermark)


class TenantWatermarks:
    """One tenant's side as its poll loop sees it: read from the store once, then moved in memory.

    ``current`` reads the store on first use (raising while it is unavailable, so the loop polls
    nothing rather than from a guess) and gives ``first`` to a resource never polled. ``advance``
    moves the watermark in memory and saves it; a failed save is logged and only costs a longer
    re-read after a restart, so the poll goes on.
    """

    def __init__(self, store: WatermarkStore, tenant_id: str, side: str, first: datetime) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.side = side
        self.first = first
        self._marks: dict[str, datetime] | None = None

    async def current(self, resources: tuple[str, ...]) -> dict[str, datetime]:
        if self._marks is None:
            self._marks = await self.store.load(self.tenant_id, self.side)
        return {resource: self._marks.get(resource, self.first) for resource in resources}

    async def advance(self, resource: str, watermark: datetime) -> None:
        marks = self._marks if self._marks is not None else {}
        marks[resource] = max(marks.get(resource, watermark), watermark)
        self._marks = marks
        try:
            await self.store.save(self.tenant_id, self.side, resource, marks[resource])
        except Exception as exc:  # kept in memory; the next advance saves it again
            log.warning(
                "catch-up watermark not saved",
                extra={"tenant_id": self.tenant_id, "side": self.side, "error": safe_errors.describe(exc)},
            )
