"""The hours export's link store (migration 0007): what an earlier export found or made.

A protocol, so the export's tests and a dry run can use memory, and the engine PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

import asyncpg


class LinkKind(StrEnum):
    USER = "user"  # Drifti user -> Tripletex employee (D-E1)
    HOURLY_RATE = "hourly_rate"  # Drifti hourly rate -> Tripletex activity (D-A1)
    JOB = "job"  # Drifti job -> Tripletex project (D-J2)


StoredLinks = dict[LinkKind, dict[str, int]]


class LinkStore(Protocol):
    def exclusive(self, tenant_id: str) -> AbstractAsyncContextManager[None]:
        """One export per tenant at a time: two at once (a double click) could both create an entry."""
        ...

    async def load(self, tenant_id: str) -> StoredLinks: ...

    async def save(self, tenant_id: str, kind: LinkKind, links: Mapping[str, tuple[int, str]]) -> None:
        """``links``: Drifti id -> (Tripletex id, how it was found)."""
        ...


class MemoryLinkStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, LinkKind, str], tuple[int, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def exclusive(self, tenant_id: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            yield

    async def load(self, tenant_id: str) -> StoredLinks:
        found: StoredLinks = {k: {} for k in LinkKind}
        for (tenant, kind, drifti_id), (tripletex_id, _) in self.rows.items():
            if tenant == tenant_id:
                found[kind][drifti_id] = tripletex_id
        return found

    async def save(self, tenant_id: str, kind: LinkKind, links: Mapping[str, tuple[int, str]]) -> None:
        for drifti_id, link in links.items():
            self.rows[(tenant_id, kind, drifti_id)] = link


_UPSERT = """
INSERT INTO drifti_hours_link (tenant_id, kind, drifti_id, tripletex_id, method, linked_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (tenant_id, kind, drifti_id) DO UPDATE
SET tripletex_id = EXCLUDED.tripletex_id, method = EXCLUDED.method, updated_at = EXCLUDED.updated_at
WHERE drifti_hours_link.tripletex_id <> EXCLUDED.tripletex_id
"""


class PostgresLinkStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def exclusive(self, tenant_id: str) -> AsyncIterator[None]:
        """A session advisory lock: holds across the replicas that serve the export button."""
        async with self.pool.acquire() as connection:
            await connection.execute("SELECT pg_advisory_lock(hashtext($1))", f"drifti-hours|{tenant_id}")
            try:
                yield
            finally:
                await connection.execute(
                    "SELECT pg_advisory_unlock(hashtext($1))", f"drifti-hours|{tenant_id}"
                )

    async def load(self, tenant_id: str) -> StoredLinks:
        found: StoredLinks = {k: {} for k in LinkKind}
        rows = await self.pool.fetch(
            "SELECT kind, drifti_id, tripletex_id FROM drifti_hours_link WHERE tenant_id = $1", tenant_id
        )
        for row in rows:
            found[LinkKind(row["kind"])][row["drifti_id"]] = int(row["tripletex_id"])
        return found

    async def save(self, tenant_id: str, kind: LinkKind, links: Mapping[str, tuple[int, str]]) -> None:
        now = datetime.now(UTC)
        rows = [(tenant_id, kind.value, d, t, how, now) for d, (t, how) in links.items()]
        if rows:
            await self.pool.executemany(_UPSERT, rows)
