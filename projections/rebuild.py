"""Rebuilding the projections (outcomes, sync status, link table, error log, decision log) from the topics.

``sync.outcomes.v1`` and ``sync.decisions.v1`` keep everything, so every projected row can be
derived again. The rebuild reads them outside any consumer group (``TopicRangeReader``) and
re-applies the messages with ``projections.apply.apply_messages``, the function the live
consumer runs, so the two cannot disagree about what a message means.

How it stays equal to the live projection, and never applies anything twice:

- It reads in two phases. First, without any lock, everything up to where the live projection
  has got (one tenant) or to the topics' ends (everything). Then, in one transaction, it locks
  ``projection_position`` (the live consumer's next batch waits at its first statement), reads
  what arrived meanwhile, deletes the rows it rebuilds and re-applies, and commits. The pause
  the live consumer sees is the second phase only.
- One tenant: it re-applies exactly the messages below the live positions and leaves the
  positions alone, so the live consumer carries on from where it was and the tenant's rows are
  what the live consumer would have built. Other tenants' rows are not touched.
- Everything: it re-applies up to the topics' ends and sets the positions there.
- Order: messages are applied in the order Kafka stored them (record timestamp, then topic,
  partition, offset), which is the order the live consumer read them in; consecutive messages
  of one topic go through ``apply_messages`` together, like a live batch.
- ``sync_outcome.recorded_at`` (when the projection first stored a row) is kept for rows that
  existed; every other time in these tables comes from the messages themselves.
  ``decision_log.seq`` is numbered anew (it only orders rows with equal times), and a tenant
  with more decisions than the panel keeps may end with a few more or fewer of its oldest rows
  than the live table, whose trim runs every few hundred rows.
- A message the live consumer dead-lettered fails here too: undecodable ones and ones the
  database refuses are skipped (in a savepoint) and listed in the report, as the live consumer
  skipped them. ``write_intent`` is the decision's working table, not rebuilt here.
- A key erased by a tombstone (``tsync tenants offboard``), anywhere up to the topics' ends, is
  not re-applied: the rebuild must not bring back what compaction has not yet removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import TypeAdapter, ValidationError

from contracts import headers
from contracts.topics import SYNC_DECISIONS, SYNC_OUTCOMES
from projections.apply import apply_messages
from projections.consumer import PROJECTION, Projected, ProjectedMessage
from projections.database import UNAVAILABLE_ERRORS
from projections.migrate import migrate
from services.core.batch_consumer import describe_validation_error
from services.core.settings import Settings
from services.replay.topic_range import Progress, TopicRangeReader

log = logging.getLogger(__name__)

PROJECTED_TOPICS = (SYNC_OUTCOMES, SYNC_DECISIONS)
TABLES = ("sync_outcome", "sync_status", "link", "error_log", "decision_log")
# Bookkeeping of a projection table, cleared with it (decision_log's trim counter).
_BOOKKEEPING = ("decision_log_tenant",)
CHUNK = 500
_ADAPTER: TypeAdapter[Projected] = TypeAdapter(ProjectedMessage)


@dataclass(frozen=True)
class Skipped:
    """A message the rebuild could not apply (the live consumer dead-lettered it as well)."""

    where: str  # topic:partition:offset
    reason: str


@dataclass
class Rebuilt:
    tenant_id: str | None
    read: int = 0  # records read from the topics (every tenant's)
    applied: int = 0  # messages of the tenant re-applied
    skipped: list[Skipped] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # rows per table afterwards
    # Keys erased by a tombstone (``tsync tenants offboard``): their messages are not re-applied.
    tombstoned: set[tuple[str, bytes]] = field(default_factory=set)


@dataclass(frozen=True)
class _Message:
    timestamp: int
    topic: str
    partition: int
    offset: int
    message: Projected
    key: bytes | None = None

    @property
    def order(self) -> tuple[int, str, int, int]:
        return (self.timestamp, self.topic, self.partition, self.offset)


def belongs_to(record: ConsumerRecord, tenant_id: str) -> bool:
    """Keys are ``tenant|type|id``; a message without a key is placed by its tenant header."""
    if record.key is not None:
        return bool(record.key.startswith(f"{tenant_id}|".encode()))
    tenant = dict(record.headers or ()).get(headers.TENANT)
    return tenant == tenant_id.encode()


async def rebuild(
    settings: Settings,
    tenant_id: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Rebuilt:
    """Rebuild one tenant's projected rows (``tenant_id``) or all of them; see the module docstring."""
    report = Rebuilt(tenant_id)
    connection: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    try:
        await migrate(connection)
        async with TopicRangeReader(settings) as reader:
            partitions = await reader.partitions(settings.topic(t) for t in PROJECTED_TOPICS)
            first = await _targets(connection, reader, partitions, tenant_id)
            messages = await _collect(
                reader, {tp: (0, end) for tp, end in first.items()}, report, on_progress
            )
            async with connection.transaction():
                await connection.execute("LOCK TABLE projection_position IN EXCLUSIVE MODE")
                second = await _targets(connection, reader, partitions, tenant_id)
                delta = {tp: (first.get(tp, 0), end) for tp, end in second.items()}
                messages += await _collect(reader, delta, report, None)
                if tenant_id is not None:  # tombstones beyond the live positions erase too
                    ends = await reader.end_offsets(partitions)
                    await _collect_tombstones(reader, {tp: (second[tp], ends[tp]) for tp in second}, report)
                messages = [m for m in messages if (m.topic, m.key) not in report.tombstoned]
                await _replace(connection, tenant_id, messages, report)
                if tenant_id is None:
                    await _set_positions(connection, second)
            report.rows = await _count_rows(connection, tenant_id)
    finally:
        await connection.close()
    log.info(
        "projections rebuilt",
        extra={"tenant_id": tenant_id, "read": report.read, "applied": report.applied, "rows": report.rows},
    )
    return report


async def _targets(
    connection: asyncpg.Connection,
    reader: TopicRangeReader,
    partitions: Sequence[TopicPartition],
    tenant_id: str | None,
) -> dict[TopicPartition, int]:
    """Where to read up to: the live positions (one tenant) or the topics' ends (everything)."""
    if tenant_id is None:
        return await reader.end_offsets(partitions)
    rows = await connection.fetch(
        "SELECT topic, partition, next_offset FROM projection_position"
        " WHERE projection = $1 AND topic = ANY($2::text[])",
        PROJECTION,
        list({tp.topic for tp in partitions}),
    )
    live = {TopicPartition(r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}
    return {tp: live.get(tp, 0) for tp in partitions}


async def _collect(
    reader: TopicRangeReader,
    ranges: dict[TopicPartition, tuple[int, int]],
    report: Rebuilt,
    on_progress: Callable[[Progress], None] | None,
) -> list[_Message]:
    found: list[_Message] = []
    async for batch in reader.read(ranges, on_progress):
        report.read += len(batch)
        for record in batch:
            if report.tenant_id is not None and not belongs_to(record, report.tenant_id):
                continue
            if record.value is None and record.key is not None:
                report.tombstoned.add((record.topic, record.key))
                continue
            where = f"{record.topic}:{record.partition}:{record.offset}"
            try:
                message = _ADAPTER.validate_json(record.value or b"")
            except ValidationError as exc:
                report.skipped.append(Skipped(where, describe_validation_error(exc)))
                continue
            if report.tenant_id is not None and message.tenant_id != report.tenant_id:
                continue
            found.append(
                _Message(record.timestamp, record.topic, record.partition, record.offset, message, record.key)
            )
    return found


async def _collect_tombstones(
    reader: TopicRangeReader, ranges: dict[TopicPartition, tuple[int, int]], report: Rebuilt
) -> None:
    """Only the tenant's tombstones in ``ranges`` (what the live projection has not reached yet)."""
    async for batch in reader.read(ranges):
        for record in batch:
            if record.value is None and record.key is not None and belongs_to(record, report.tenant_id or ""):
                report.tombstoned.add((record.topic, record.key))


async def _replace(
    connection: asyncpg.Connection, tenant_id: str | None, messages: list[_Message], report: Rebuilt
) -> None:
    where, args = ("WHERE tenant_id = $1", [tenant_id]) if tenant_id is not None else ("", [])
    await connection.execute(
        "CREATE TEMP TABLE rebuild_recorded ON COMMIT DROP AS"
        f" SELECT outcome_id, recorded_at FROM sync_outcome {where}",
        *args,
    )
    for table in (*TABLES, *_BOOKKEEPING):
        await connection.execute(f"DELETE FROM {table} {where}", *args)
    for chunk in _chunks(sorted(messages, key=lambda m: m.order)):
        report.applied += await _apply_chunk(connection, chunk, report)
    await connection.execute(
        "UPDATE sync_outcome s SET recorded_at = r.recorded_at FROM rebuild_recorded r"
        " WHERE s.outcome_id = r.outcome_id"
    )


def _chunks(messages: Iterable[_Message]) -> Iterable[list[_Message]]:
    """Consecutive messages of one topic, at most ``CHUNK``: what a live batch would apply together."""
    chunk: list[_Message] = []
    for m in messages:
        if chunk and (m.topic != chunk[-1].topic or len(chunk) >= CHUNK):
            yield chunk
            chunk = []
        chunk.append(m)
    if chunk:
        yield chunk


# The data refused: by PostgreSQL, or by asyncpg before sending (a value its codec cannot encode).
_REFUSED = (asyncpg.PostgresError, asyncpg.exceptions._base.DataError)


async def _apply_chunk(connection: asyncpg.Connection, chunk: list[_Message], report: Rebuilt) -> int:
    """Apply a chunk in a savepoint; if the data is refused, each message alone, skipping the bad ones."""
    try:
        async with connection.transaction():
            await apply_messages(connection, [m.message for m in chunk])
        return len(chunk)
    except UNAVAILABLE_ERRORS:
        raise
    except _REFUSED:
        pass
    applied = 0
    for m in chunk:
        try:
            async with connection.transaction():
                await apply_messages(connection, [m.message])
            applied += 1
        except UNAVAILABLE_ERRORS:
            raise
        except _REFUSED as exc:
            report.skipped.append(
                Skipped(f"{m.topic}:{m.partition}:{m.offset}", f"{type(exc).__name__}: {exc}")
            )
    return applied


async def _set_positions(connection: asyncpg.Connection, ends: dict[TopicPartition, int]) -> None:
    await connection.executemany(
        """INSERT INTO projection_position (projection, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
           ON CONFLICT (projection, topic, partition) DO UPDATE
           SET next_offset = EXCLUDED.next_offset, updated_at = now()""",
        [(PROJECTION, tp.topic, tp.partition, end) for tp, end in ends.items()],
    )


async def _count_rows(connection: asyncpg.Connection, tenant_id: str | None) -> dict[str, int]:
    where, args = ("WHERE tenant_id = $1", [tenant_id]) if tenant_id is not None else ("", [])
    return {t: int(await connection.fetchval(f"SELECT count(*) FROM {t} {where}", *args)) for t in TABLES}
