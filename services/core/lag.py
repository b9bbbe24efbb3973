"""Consumer lag: how far each of this process's consumer groups trails the end of its topics.

Measured when ``/metrics`` is scraped (committed offsets against end offsets), which is what an
autoscaler on lag needs, without a background task per process.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence

from aiokafka.structs import TopicPartition

from services.core import kafka_security
from services.core.settings import Settings


async def measure_lag(settings: Settings, groups: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], int]:
    """``{(consumer, topic): lag}`` for consumer names (unprefixed) and their (prefixed) topics."""
    admin = kafka_security.admin(settings)
    probe = kafka_security.consumer(settings, group_id=None)
    await admin.start()
    await probe.start()
    # aiokafka 0.14: stopping a group-less consumer before its committed-offsets task has run once
    # raises CancelledError from stop(); one turn of the loop lets the task start.
    await asyncio.sleep(0)
    try:
        lag: dict[tuple[str, str], int] = defaultdict(int)
        described = await admin.describe_topics([t for topics in groups.values() for t in topics])
        partition_ids = {t["topic"]: [p["partition"] for p in t["partitions"]] for t in described}
        for consumer, topics in groups.items():
            partitions = [TopicPartition(topic, p) for topic in topics for p in partition_ids.get(topic, [])]
            if not partitions:
                continue
            ends = await probe.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(settings.group(consumer))
            for tp in partitions:
                position = committed.get(tp)
                done = position.offset if position is not None and position.offset >= 0 else 0
                lag[(consumer, tp.topic)] += max(ends[tp] - done, 0)
        return dict(lag)
    finally:
        await probe.stop()
        await admin.close()
