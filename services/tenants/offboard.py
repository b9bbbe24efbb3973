"""Offboarding a tenant: erase what the engine holds about it (``tsync tenants offboard``).

What goes, in this order:

1. **PostgreSQL**, in one transaction: the tenant's rows in every table that has a ``tenant_id``
   column (``ERASED_TABLES``): the registry row with its sealed credentials, panel access tokens
   (open panel sessions end with them), parked commands, catch-up watermarks, the projections
   (outcomes, status, links with their last synced content, error and decision logs) and the
   decision's working tables. A table with a ``tenant_id`` column that is in neither list stops
   the offboarding before anything is erased (and ``tests/unit/test_offboard_tables.py`` fails
   when a migration adds one), so a new table can never keep a tenant's data by oversight.
2. **Kafka, compacted topics** (``contracts.topics.PER_MESSAGE_KEYS``: outcomes, decisions): a
   tombstone (null value) for every key of the tenant's that still has a value, on the partition
   the key is on. Compaction then removes those messages within ``max.compaction.lag.ms``; the
   tombstones (keys only: ids, no content) go ``delete.retention.ms`` later. Consumers and
   ``projections rebuild`` pass tombstones over, and the rebuild never re-applies a tombstoned key.
3. **Kafka, other topics** (changes, commands, dead letters): nothing is written; their messages
   expire with the topic's retention. ``kafka_expires_by`` says when the last one is gone.
4. **The erasure record** (``tenant_erasure``): tenant id, time, operator, counts, that date.

Running it again is harmless: it erases what is left (rows that messages still in flight
re-created) and tombstones only keys that still have a value.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka.structs import TopicPartition

from contracts.topics import PER_MESSAGE_KEYS, SEGMENT_MS, topic_specs
from projections.migrate import migrate
from services.core import kafka_security
from services.core.settings import Settings
from services.replay.topic_range import TopicRangeReader

log = logging.getLogger(__name__)

# Every table with a tenant_id column, in the order rows are deleted (no foreign keys between them
# today; the registry row goes last, so a failure leaves the tenant registered and visible).
ERASED_TABLES: tuple[str, ...] = (
    "sync_outcome",
    "sync_status",
    "link",
    "error_log",
    "decision_log",
    "decision_log_tenant",
    "write_intent",
    "deleted_record",
    "seen_version",
    "drifti_account_map",
    "drifti_hours_link",
    "parked_command",
    "written_command",
    "side_outage",
    "catch_up_watermark",
    "panel_access",
    "tenant",
)
# Tables with a tenant_id column that offboarding keeps: the erasure record itself (ids, counts).
KEPT_TABLES: tuple[str, ...] = ("tenant_erasure",)


class UncoveredTable(RuntimeError):
    """The database has a table with a tenant_id column that offboarding does not know."""


@dataclass
class Erasure:
    tenant_id: str
    erased_by: str
    erased_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    tombstones: dict[str, int] = field(default_factory=dict)  # topic (unprefixed) -> tombstones published
    expiring: dict[str, datetime] = field(default_factory=dict)  # topic -> its last message gone by
    erasure_id: int | None = None

    @property
    def kafka_expires_by(self) -> datetime:
        return max(self.expiring.values(), default=self.erased_at)


async def tenant_tables(connection: asyncpg.Connection) -> set[str]:
    """Every table of the engine's schema with a ``tenant_id`` column."""
    rows = await connection.fetch(
        "SELECT c.table_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'"
        " AND t.table_type = 'BASE TABLE'"
    )
    return {r["table_name"] for r in rows}


async def _check_coverage(connection: asyncpg.Connection) -> None:
    unknown = await tenant_tables(connection) - set(ERASED_TABLES) - set(KEPT_TABLES)
    if unknown:
        raise UncoveredTable(
            f"table(s) {', '.join(sorted(unknown))} have a tenant_id column that offboarding does not erase "
            "(services/tenants/offboard.py ERASED_TABLES): nothing was erased"
        )


async def count_rows(settings: Settings, tenant_id: str) -> dict[str, int]:
    """What offboarding would erase from PostgreSQL now, per table (for the confirmation)."""
    connection: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    try:
        await migrate(connection)
        await _check_coverage(connection)
        present = await tenant_tables(connection)
        return {
            table: int(
                await connection.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant_id)
            )
            for table in ERASED_TABLES
            if table in present
        }
    finally:
        await connection.close()


async def offboard(settings: Settings, tenant_id: str, erased_by: str) -> Erasure:
    """Erase ``tenant_id`` (see the module docstring) and record the erasure."""
    erasure = Erasure(tenant_id, erased_by)
    connection: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    try:
        await migrate(connection)
        await _check_coverage(connection)
        present = await tenant_tables(connection)
        async with connection.transaction():
            for table in ERASED_TABLES:
                if table in present:
                    status = await connection.execute(f"DELETE FROM {table} WHERE tenant_id = $1", tenant_id)
                    erasure.rows[table] = int(status.split()[-1])
        erasure.tombstones = await publish_tombstones(settings, tenant_id)
        erasure.expiring = _expiry(erasure.erased_at)
        erasure.erasure_id = await connection.fetchval(
            "INSERT INTO tenant_erasure (tenant_id, erased_at, erased_by, rows_deleted, tombstones,"
            " kafka_expires_by) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING erasure_id",
            tenant_id,
            erasure.erased_at,
            erased_by,
            json.dumps(erasure.rows),
            json.dumps(erasure.tombstones),
            erasure.kafka_expires_by,
        )
    finally:
        await connection.close()
    log.info(
        "tenant offboarded",
        extra={
            "tenant_id": tenant_id,
            "erasure_id": erasure.erasure_id,
            "rows": sum(erasure.rows.values()),
            "tombstones": sum(erasure.tombstones.values()),
        },
    )
    return erasure


def _expiry(now: datetime) -> dict[str, datetime]:
    """When each topic that expires rather than compacts holds none of today's messages any more."""
    return {
        spec.name: now + timedelta(milliseconds=spec.retention_ms + SEGMENT_MS)
        for spec in topic_specs(1)
        if spec.cleanup_policy == "delete" and spec.retention_ms >= 0
    }


async def publish_tombstones(settings: Settings, tenant_id: str) -> dict[str, int]:
    """A tombstone for each of the tenant's keys on the compacted topics that still has a value."""
    prefix = f"{tenant_id}|".encode()
    names = {settings.topic(t): t for t in sorted(PER_MESSAGE_KEYS)}
    alive: dict[tuple[TopicPartition, bytes], bool] = {}
    async with TopicRangeReader(settings) as reader:
        partitions = await reader.partitions(names)
        ends = await reader.end_offsets(partitions)
        async for batch in reader.read({tp: (0, end) for tp, end in ends.items()}):
            for record in batch:
                if record.key is not None and record.key.startswith(prefix):
                    alive[(TopicPartition(record.topic, record.partition), record.key)] = (
                        record.value is not None
                    )
    wanted = [where for where, has_value in alive.items() if has_value]
    counts = dict.fromkeys(names.values(), 0)
    if not wanted:
        return counts
    producer = kafka_security.producer(
        settings, client_id=f"{settings.service_name}-offboard", enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        sent = [
            await producer.send(partition.topic, None, key=key, partition=partition.partition)
            for partition, key in wanted
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    for partition, _ in wanted:
        counts[names[partition.topic]] += 1
    return counts


__all__ = [
    "ERASED_TABLES",
    "KEPT_TABLES",
    "Erasure",
    "UncoveredTable",
    "count_rows",
    "offboard",
    "tenant_tables",
]
