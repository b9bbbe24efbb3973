"""Reading what the engine published, straight from Kafka, for assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from services.core.settings import Settings


async def read_topic(
    settings: Settings, topic: str, predicate: Callable[[ConsumerRecord], bool], count: int
) -> list[ConsumerRecord]:
    """Read ``topic`` from the start until ``count`` records match (at most 30 s)."""
    return await read_until(settings, topic, predicate, lambda found: len(found) >= count)


async def read_until(
    settings: Settings,
    topic: str,
    predicate: Callable[[ConsumerRecord], bool],
    done: Callable[[list[ConsumerRecord]], bool],
    seconds: float = 30,
) -> list[ConsumerRecord]:
    """Read ``topic`` from the start until the matching records satisfy ``done`` (at most ``seconds``)."""
    consumer = _reader(settings, topic)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(seconds):
            while not done(found):
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    found.extend(r for r in records if predicate(r))
    finally:
        await consumer.stop()
    return found


async def read_to_end(
    settings: Settings, topic: str, predicate: Callable[[ConsumerRecord], bool]
) -> list[ConsumerRecord]:
    """Every matching record of ``topic`` up to its end as it is now (to prove an absence)."""
    consumer = _reader(settings, topic)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        for _ in range(600):  # every partition, assigned once the topic's metadata is in
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        async with asyncio.timeout(30):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    found.extend(r for r in records if predicate(r))
    finally:
        await consumer.stop()
    return found


def _reader(settings: Settings, topic: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
