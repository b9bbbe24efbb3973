"""Throughput of the decision service against a raw aiokafka consume→decode→produce loop.

Both read the same N change events from Kafka and write to Kafka; the engine also loads links
from PostgreSQL per batch, decides, and publishes a decision record plus a command per change.
Prints messages per second for each, and the engine's share of the raw loop's speed.

    .venv/bin/python bench/decision_throughput.py --events 20000

Uses the Kafka and PostgreSQL of ``make up`` (or KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import time
import uuid
from datetime import UTC, date, datetime

from aiokafka.admin import NewTopic

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import SVENN_CHANGES, SYNC_DECISIONS, TRIPLETEX_COMMANDS, record_key
from services.core import kafka_security
from services.core.logs import configure_logging
from services.core.settings import Settings
from services.core.topic_admin import ensure_topics
from services.runtime import Role, Runtime


def events(tenant: str, n: int) -> list[tuple[bytes, bytes]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        entity_id = f"p-{i}"
        event = ChangeEvent(
            tenant_id=tenant,
            correlation_id=uuid.uuid4(),
            event_id=change_event_id(tenant, "svenn", "project", entity_id, "1"),
            source=SourceSystem.SVENN,
            entity_type=EntityType.PROJECT,
            entity_id=entity_id,
            change_kind=ChangeKind.CREATED,
            occurred_at=now,
            source_version="1",
            snapshot=ProjectSnapshot(number=f"2026.{i}", name=f"Project {i}", start_date=date(2026, 1, 1)),
        )
        out.append((record_key(tenant, EntityType.PROJECT, entity_id), event.model_dump_json().encode()))
    return out


async def fill(settings: Settings, payload: list[tuple[bytes, bytes]]) -> None:
    producer = kafka_security.producer(settings, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(settings.topic(SVENN_CHANGES), value, key=key) for key, value in payload
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def count_until(settings: Settings, topic: str, n: int) -> float:
    """Seconds until ``n`` records are on ``topic`` (read from the start)."""
    consumer = kafka_security.consumer(
        settings,
        settings.topic(topic),
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen = 0
    try:
        while seen < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            seen += sum(len(v) for v in batch.values())
    finally:
        await consumer.stop()
    return time.perf_counter()


async def raw_loop(settings: Settings, n: int) -> float:
    """The floor to compare with: consume, decode with pydantic, produce one message per change."""
    consumer = kafka_security.consumer(
        settings,
        settings.topic(SVENN_CHANGES),
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = kafka_security.producer(settings, linger_ms=5)
    await consumer.start()
    await producer.start()
    out = settings.topic("bench.raw.out")
    done = 0
    started = time.perf_counter()
    try:
        while done < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = []
            for records in batch.values():
                for record in records:
                    event = ChangeEvent.model_validate_json(record.value or b"")
                    futures.append(await producer.send(out, event.model_dump_json().encode(), key=record.key))
            await asyncio.gather(*futures)
            if futures:
                await consumer.commit()
            done += len(futures)
    finally:
        await consumer.stop()
        await producer.stop()
    return n / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    configure_logging("WARNING", "text")
    logging.getLogger("tripletex_sync.kafka").setLevel(logging.WARNING)
    n = args.events
    settings = Settings(topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.", topic_partitions=6, log_format="text")
    await ensure_topics(settings)
    admin = kafka_security.admin(settings)
    await admin.start()
    await admin.create_topics([NewTopic(settings.topic("bench.raw.out"), 6, 1)])
    await admin.close()

    payload = events("bench", n)
    t0 = time.perf_counter()
    await fill(settings, payload)
    print(f"produced {n} change events in {time.perf_counter() - t0:.1f} s")

    raw_rate = await raw_loop(settings, n)
    print(f"raw aiokafka consume→decode→produce: {raw_rate:,.0f} msgs/s")

    # The engine reads a second copy of the events, produced after it has joined its group, so the
    # figure is steady-state throughput (start-up and the group join are not counted).
    runtime = Runtime(
        settings.model_copy(update={"topic_prefix": settings.topic_prefix + "e."}), [Role.DECISION]
    )
    engine_settings = runtime.settings
    await ensure_topics(engine_settings)
    await runtime.start()
    try:
        await asyncio.sleep(3)
        started = time.perf_counter()
        await fill(engine_settings, payload)
        finished = await asyncio.gather(
            count_until(engine_settings, SYNC_DECISIONS, n),
            count_until(engine_settings, TRIPLETEX_COMMANDS, n),
        )
    finally:
        await runtime.stop()
    engine_rate = n / (max(finished) - started)
    print(f"engine decision service (decide, record, command): {engine_rate:,.0f} changes/s")
    print(f"engine / raw: {engine_rate / raw_rate:.0%}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
