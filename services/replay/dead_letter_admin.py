"""Dead letters for an operator: list them with why each failed, show one, put them back.

A dead letter keeps the original key, value and headers byte for byte, plus headers saying
where it came from and why it failed (``services.core.dead_letters``). Replaying one publishes
that original, unchanged, to the topic it came from (``tsync-dlq-source-topic``), with one more
header naming the dead letter it was replayed from; the consumer then handles it like any
other message (and dead-letters it again, as a new dead letter, if the cause is not fixed).

Replaying twice publishes once: each replay is recorded in ``dead_letter_replay`` (migration
0010) in a transaction that commits only after Kafka has the copy. Should the commit itself
fail after the publish, a second copy can follow a second replay; the engine absorbs it, since
every message id is deterministic and every consumer deduplicates by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import asyncpg
from aiokafka.structs import ConsumerRecord

from contracts import headers
from contracts.topics import CONSUMERS, PER_MESSAGE_KEYS, dead_letter_topic
from projections.migrate import migrate
from services.core import kafka_security
from services.core.settings import Settings
from services.replay.topic_range import TopicRangeReader

REPLAYED_FROM = "tsync-dlq-replayed-from"
"""Header on a replayed copy: ``<dlq topic>:<partition>:<offset>`` of the dead letter."""

_DLQ_HEADERS = frozenset(
    {
        headers.DLQ_REASON,
        headers.DLQ_EXCEPTION,
        headers.DLQ_STAGE,
        headers.DLQ_CONSUMER,
        headers.DLQ_SOURCE_TOPIC,
        headers.DLQ_SOURCE_PARTITION,
        headers.DLQ_SOURCE_OFFSET,
        headers.DLQ_FAILED_AT,
        REPLAYED_FROM,
    }
)


class UnknownConsumer(ValueError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    consumer: str
    topic: str  # the dead-letter topic (with the deployment's prefix)
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    stored_at: datetime
    replayed_at: datetime | None = None
    replayed_to: str | None = None

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", "replace")
        return None

    @property
    def reason(self) -> str:
        return self.header(headers.DLQ_REASON) or "(no reason recorded)"

    @property
    def stage(self) -> str:
        return self.header(headers.DLQ_STAGE) or "?"

    @property
    def source_topic(self) -> str | None:
        return self.header(headers.DLQ_SOURCE_TOPIC)

    @property
    def source(self) -> str:
        where = (
            self.source_topic,
            self.header(headers.DLQ_SOURCE_PARTITION),
            self.header(headers.DLQ_SOURCE_OFFSET),
        )
        return ":".join(w or "?" for w in where)

    @property
    def failed_at(self) -> str:
        return self.header(headers.DLQ_FAILED_AT) or self.stored_at.isoformat()

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "replace") if self.key is not None else ""

    @property
    def tenant_id(self) -> str | None:
        return self.header(headers.TENANT) or (self.key_text.split("|", 1)[0] or None)

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the message had before it failed (trace context, ids), without the DLQ's."""
        return [(k, v) for k, v in self.headers if k not in _DLQ_HEADERS]


@dataclass
class Replayed:
    consumer: str
    published: list[DeadLetter] = field(default_factory=list)  # replayed_to says where the copy went
    already: list[DeadLetter] = field(default_factory=list)  # replayed before: not published again
    unplaceable: list[DeadLetter] = field(default_factory=list)  # no source topic in its headers
    missing: list[str] = field(default_factory=list)  # ids asked for that are not on the topic


def consumers_named(consumer: str | None) -> tuple[str, ...]:
    if consumer is None:
        return CONSUMERS
    if consumer not in CONSUMERS:
        raise UnknownConsumer(f"unknown consumer {consumer!r}; choose from {', '.join(CONSUMERS)}")
    return (consumer,)


async def read_dead_letters(settings: Settings, consumers: Iterable[str]) -> list[DeadLetter]:
    """Every dead letter of these consumers, oldest first per consumer, with its replay if any."""
    by_topic = {settings.topic(dead_letter_topic(c)): c for c in consumers}
    letters: list[DeadLetter] = []
    async with TopicRangeReader(settings) as reader:
        partitions = await reader.partitions(by_topic)
        ends = await reader.end_offsets(partitions)
        async for batch in reader.read({tp: (0, end) for tp, end in ends.items()}):
            letters += [_letter(by_topic[r.topic], r) for r in batch]
    letters.sort(key=lambda d: (d.consumer, d.partition, d.offset))
    replays = await _replays(settings, by_topic)
    return [
        replace(d, replayed_at=replays[k][0], replayed_to=replays[k][1])
        if (k := (d.topic, d.partition, d.offset)) in replays
        else d
        for d in letters
    ]


def _letter(consumer: str, record: ConsumerRecord) -> DeadLetter:
    return DeadLetter(
        consumer=consumer,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value or b"",
        headers=tuple((k, v or b"") for k, v in record.headers or ()),
        stored_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
    )


async def _replays(
    settings: Settings, topics: Iterable[str]
) -> dict[tuple[str, int, int], tuple[datetime, str | None]]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        await migrate(connection)
        rows = await connection.fetch(
            "SELECT dlq_topic, dlq_partition, dlq_offset, replayed_at, replayed_to FROM dead_letter_replay"
            " WHERE dlq_topic = ANY($1::text[])",
            list(topics),
        )
    finally:
        await connection.close()
    return {
        (r["dlq_topic"], r["dlq_partition"], r["dlq_offset"]): (r["replayed_at"], r["replayed_to"])
        for r in rows
    }


async def find(settings: Settings, consumer: str, letter_id: str) -> DeadLetter | None:
    (name,) = consumers_named(consumer)
    return next((d for d in await read_dead_letters(settings, [name]) if d.id == letter_id), None)


def _source_partition(settings: Settings, letter: DeadLetter) -> int | None:
    """On a compacted topic the key is the message's own (``contracts.topics.message_key``), not its
    record's: the copy goes back to the partition it came from, where the record's messages are."""
    compacted = {settings.topic(t) for t in PER_MESSAGE_KEYS}
    partition = letter.header(headers.DLQ_SOURCE_PARTITION)
    if letter.source_topic in compacted and partition is not None and partition.isdigit():
        return int(partition)
    return None


async def replay(settings: Settings, consumer: str, ids: Sequence[str] | None) -> Replayed:
    """Put dead letters back on their topics: those with ``ids`` (``partition:offset``), or all (None)."""
    (name,) = consumers_named(consumer)
    letters = await read_dead_letters(settings, [name])
    report = Replayed(name)
    if ids is not None:
        present = {d.id for d in letters}
        report.missing = [i for i in ids if i not in present]
        letters = [d for d in letters if d.id in set(ids)]
    producer = kafka_security.producer(
        settings,
        client_id=f"{settings.service_name}-dlq-replay",
        enable_idempotence=True,
        acks="all",
    )
    connection = await asyncpg.connect(settings.database_url)
    await producer.start()
    try:
        for letter in letters:
            if letter.source_topic is None:
                report.unplaceable.append(letter)
                continue
            async with connection.transaction():
                claimed = await connection.fetchval(
                    "INSERT INTO dead_letter_replay (dlq_topic, dlq_partition, dlq_offset, consumer,"
                    " source_topic) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
                    letter.topic,
                    letter.partition,
                    letter.offset,
                    name,
                    letter.source_topic,
                )
                if not claimed:
                    report.already.append(letter)
                    continue
                origin = f"{letter.topic}:{letter.partition}:{letter.offset}"
                stored = await producer.send_and_wait(
                    letter.source_topic,
                    letter.value,
                    key=letter.key,
                    partition=_source_partition(settings, letter),
                    headers=[*letter.original_headers(), (REPLAYED_FROM, origin.encode())],
                )
                replayed_to = f"{stored.topic}:{stored.partition}:{stored.offset}"
                await connection.execute(
                    "UPDATE dead_letter_replay SET replayed_to = $4"
                    " WHERE dlq_topic = $1 AND dlq_partition = $2 AND dlq_offset = $3",
                    letter.topic,
                    letter.partition,
                    letter.offset,
                    replayed_to,
                )
            report.published.append(replace(letter, replayed_at=datetime.now(UTC), replayed_to=replayed_to))
    finally:
        await producer.stop()
        await connection.close()
    return report
