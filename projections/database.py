"""The projections' connection pool, opened at start-up (after migrations) and closed at shutdown."""

from __future__ import annotations

import asyncpg

from projections.migrate import migrate
from services.core.errors import DATABASE_AWAY, TransientError

# The database is away (down, restarting, unreachable), not the data wrong: retry, never dead-letter
# (``services.core.errors``, where every consumer's "outage or the message's fault?" is decided).
UNAVAILABLE_ERRORS = DATABASE_AWAY


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            # A consumer still running while the process stops: an outage, not the message's fault.
            raise TransientError("database not started")
        return self._pool

    async def start(self) -> None:
        if self._pool is not None:
            return
        pool = await asyncpg.create_pool(self.url, min_size=1, max_size=5)
        async with pool.acquire() as connection:
            await migrate(connection)
        self._pool = pool

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
