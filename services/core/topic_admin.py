"""Creates the engine's topics. The broker has auto-creation off, so a misspelt topic fails loudly."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import topic_specs
from services.core import kafka_security
from services.core.settings import Settings

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every missing topic; returns the names created. Safe to run from every service at once."""
    admin = kafka_security.admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(spec.name),
                num_partitions=spec.partitions,
                replication_factor=1,
                topic_configs=spec.configs(),
            )
            for spec in topic_specs(settings.topic_partitions)
            if settings.topic(spec.name) not in existing
        ]
        if wanted:
            result = await admin.create_topics(wanted)
            # A concurrent creator wins the race with TOPIC_ALREADY_EXISTS (36): that is success here.
            for name, code, *_ in result.topic_errors:
                if code not in (0, 36):
                    raise RuntimeError(f"could not create topic {name}: Kafka error code {code}")
            log.info("created topics", extra={"topics": [t.name for t in wanted]})
            await _wait_for_leaders(admin, [t.name for t in wanted])
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """New partitions get their leader a moment after creation; consumers that start earlier log errors."""
    async with asyncio.timeout(timeout_s):
        while True:
            described = await admin.describe_topics(names)
            if all(
                t.get("error_code", 0) == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
                for t in described
            ):
                return
            await asyncio.sleep(0.1)
