"""The writers' tracking rows (``written_command``, migration 0015): commands carried out once.

Owned by the writers alone; the read models are never consulted on the write path. Rows older than
the command topics' retention can never be matched by a command read again and are pruned.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from uuid import UUID

import asyncpg

from contracts.topics import COMMAND_RETENTION_MS

# A day beyond the retention: a segment is deleted up to a day after its last message expires.
KEEP_DAYS = COMMAND_RETENTION_MS // 86_400_000 + 1
PRUNE_EVERY_S = 3600.0

_last_pruned = float("-inf")


async def among(pool: asyncpg.Pool, command_ids: Sequence[UUID]) -> frozenset[UUID]:
    """Which of these commands were carried out already."""
    if not command_ids:
        return frozenset()
    rows = await pool.fetch(
        "SELECT command_id FROM written_command WHERE command_id = ANY($1::uuid[])", list(command_ids)
    )
    return frozenset(row["command_id"] for row in rows)


async def record(pool: asyncpg.Pool, written: Iterable[tuple[UUID, str]]) -> None:
    """Remember a batch's carried-out commands (command id, tenant); prune old rows once an hour."""
    global _last_pruned
    await pool.executemany(
        "INSERT INTO written_command (command_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        list(written),
    )
    if time.monotonic() - _last_pruned > PRUNE_EVERY_S:
        _last_pruned = time.monotonic()
        await pool.execute(
            "DELETE FROM written_command WHERE written_at < now() - make_interval(days => $1)", KEEP_DAYS
        )
