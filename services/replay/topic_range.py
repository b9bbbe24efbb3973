"""Reading fixed offset ranges of topics, outside every consumer group.

A replay must not move the offsets of the live consumers, nor be moved by them: it assigns the
partitions itself (no group, nothing committed) and reads each one up to an end it fixed
before it started, so it finishes even while the engine keeps publishing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType

from aiokafka.structs import ConsumerRecord, TopicPartition

from services.core import kafka_security
from services.core.settings import Settings

Ranges = Mapping[TopicPartition, tuple[int, int]]
"""Per partition, the offsets to read: from the first (inclusive) to the second (exclusive)."""


@dataclass(frozen=True)
class Progress:
    read: int
    total: int


class TopicRangeReader:
    """One unassigned Kafka consumer (``group_id=None``) for looking up and reading offset ranges."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._consumer = kafka_security.consumer(
            settings,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{settings.service_name}-replay",
        )

    async def __aenter__(self) -> TopicRangeReader:
        await self._consumer.start()
        # aiokafka 0.14: stopping a group-less consumer before its committed-offsets task has run
        # once raises CancelledError from stop(); one turn of the loop lets the task start.
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._consumer.stop()

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """Every partition of these (full, prefixed) topic names; a missing topic has none."""
        wanted = list(topics)
        admin = kafka_security.admin(self._settings)
        await admin.start()
        try:
            described = await admin.describe_topics(wanted)
        finally:
            await admin.close()
        ids = {
            t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in described
            if not t["error_code"]
        }
        found = [TopicPartition(topic, p) for topic in wanted for p in ids.get(topic, [])]
        return found

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        partitions = list(partitions)
        return dict(await self._consumer.end_offsets(partitions)) if partitions else {}

    async def beginning_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        partitions = list(partitions)
        return dict(await self._consumer.beginning_offsets(partitions)) if partitions else {}

    async def read(
        self, ranges: Ranges, on_progress: Callable[[Progress], None] | None = None
    ) -> AsyncIterator[list[ConsumerRecord]]:
        """Batches of the records in ``ranges``; offsets deleted by retention are skipped."""
        firsts = await self.beginning_offsets(ranges)
        todo = {
            tp: (max(start, firsts.get(tp, 0)), end) for tp, (start, end) in ranges.items() if end > start
        }
        todo = {tp: r for tp, r in todo.items() if r[1] > r[0]}
        total = sum(end - start for start, end in todo.values())
        done = 0
        if not todo:
            return
        self._consumer.assign(list(todo))
        for tp, (start, _) in todo.items():
            self._consumer.seek(tp, start)
        open_ = set(todo)
        while open_:
            fetched = await self._consumer.getmany(*open_, timeout_ms=500, max_records=2000)
            batch: list[ConsumerRecord] = []
            for tp, records in fetched.items():
                end = todo[tp][1]
                batch += [r for r in records if r.offset < end]
            for tp in list(open_):
                if await self._consumer.position(tp) >= todo[tp][1]:
                    open_.discard(tp)
                    self._consumer.pause(tp)
            if batch:
                done += len(batch)
                if on_progress is not None:
                    on_progress(Progress(min(done, total), total))
                yield batch
        self._consumer.unsubscribe()
        if on_progress is not None:
            on_progress(Progress(total, total))  # gaps (transaction markers) count as read
