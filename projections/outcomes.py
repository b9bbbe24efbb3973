"""Projects ``sync.outcomes.v1`` into ``sync_outcome`` (one row per outcome) and ``sync_status`` (counts).

One transaction per batch, with the tracking rows. If the batch's transaction fails for a
reason in the data (not the database being away), each message is retried in a transaction of
its own and the ones that still fail go to the dead-letter topic, so one bad row cannot stall
the projection.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from contracts.envelope import Outcome
from contracts.topics import PROJECTIONS_CONSUMER, SYNC_OUTCOMES
from projections import positions
from projections.database import Database
from services.core.batch_consumer import BatchConsumer, Received
from services.core.errors import TransientError
from services.core.settings import Settings

PROJECTION = "sync_outcome"

_INSERT = """
INSERT INTO sync_outcome (outcome_id, tenant_id, command_id, correlation_id, target, operation, entity_type,
    source_entity_id, target_entity_id, status, rule_id, reason, error_code, error_message, occurred_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
    $15::timestamptz[])
ON CONFLICT (outcome_id) DO NOTHING
RETURNING tenant_id, entity_type, target, status, occurred_at
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

_TRANSIENT_DB = (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, OSError)


class OutcomeProjection(BatchConsumer[Outcome]):
    stage = "project"

    def __init__(self, *, database: Database, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.database = database

    async def handle_batch(self, received: list[Received[Outcome]]) -> None:
        if not received:
            return
        for item in received:
            # A span per message keeps each change's trace whole; the batch is written once below.
            with self._span(item.record, item.message):
                pass
        try:
            await self._write(received)
        except _TRANSIENT_DB as exc:
            raise TransientError(f"projections database unavailable: {exc}") from exc
        except asyncpg.PostgresError:
            for item in received:
                try:
                    await self._write([item])
                except _TRANSIENT_DB as exc:
                    raise TransientError(f"projections database unavailable: {exc}") from exc
                except asyncpg.PostgresError as exc:
                    await self.dead_letters.send(item.record, self.stage, f"{type(exc).__name__}: {exc}", exc)

    async def _write(self, received: list[Received[Outcome]]) -> None:
        async with self.database.pool.acquire() as connection, connection.transaction():
            seen = await positions.load(connection, PROJECTION, (i.record.topic for i in received))
            fresh = [i.message for i in received if positions.is_new(seen, i.record)]
            columns: list[tuple[object, ...]] = list(zip(*(_row(o) for o in fresh), strict=True))
            # Only rows actually inserted count: a repeat of an outcome already projected counts once.
            inserted = await connection.fetch(_INSERT, *columns) if fresh else []
            per_status: dict[tuple[str, str, str], Counter[str]] = {}
            last_at: dict[tuple[str, str, str], datetime] = {}
            for row in inserted:
                key = (row["tenant_id"], row["entity_type"], row["target"])
                per_status.setdefault(key, Counter())[row["status"]] += 1
                last_at[key] = max(last_at.get(key, row["occurred_at"]), row["occurred_at"])
            await connection.executemany(
                _STATUS,
                [
                    (*key, c["applied"], c["skipped"], c["failed"], last_at[key])
                    for key, c in per_status.items()
                ],
            )
            await positions.save(connection, PROJECTION, (i.record for i in received))


def _row(o: Outcome) -> tuple[object, ...]:
    return (
        o.outcome_id,
        o.tenant_id,
        o.command_id,
        o.correlation_id,
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


def register(broker: KafkaBroker, settings: Settings, database: Database) -> None:
    OutcomeProjection(
        database=database,
        broker=broker,
        settings=settings,
        consumer=PROJECTIONS_CONSUMER,
        topics=[SYNC_OUTCOMES],
        adapter=TypeAdapter(Outcome),
    ).register(broker)
