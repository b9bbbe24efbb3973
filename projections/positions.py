"""Tracking rows: how far a projection has applied each topic partition.

Kept in the same transaction as the projection's own rows, so they are the truth about what
was applied; Kafka's committed offsets are only a hint of where to resume reading.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
from aiokafka.structs import ConsumerRecord


async def load(
    connection: asyncpg.Connection, projection: str, topics: Iterable[str]
) -> dict[tuple[str, int], int]:
    rows = await connection.fetch(
        "SELECT topic, partition, next_offset FROM projection_position"
        " WHERE projection = $1 AND topic = ANY($2::text[]) FOR UPDATE",
        projection,
        list(set(topics)),
    )
    return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}


def is_new(positions: dict[tuple[str, int], int], record: ConsumerRecord) -> bool:
    return record.offset >= positions.get((record.topic, record.partition), 0)


async def save(connection: asyncpg.Connection, projection: str, records: Iterable[ConsumerRecord]) -> None:
    latest: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        latest[key] = max(latest.get(key, -1), record.offset + 1)
    await connection.executemany(
        """INSERT INTO projection_position (projection, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
           ON CONFLICT (projection, topic, partition) DO UPDATE
           SET next_offset = GREATEST(projection_position.next_offset, EXCLUDED.next_offset),
               updated_at = now()""",
        [(projection, topic, partition, offset) for (topic, partition), offset in latest.items()],
    )
