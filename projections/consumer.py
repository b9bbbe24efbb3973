"""The projections consumer: outcomes and decisions into PostgreSQL, one transaction per batch.

Each batch writes ``sync_outcome``/``sync_status``, the link table and the error log together with
its tracking rows, so a redelivered message changes nothing and every table can be rebuilt by
replaying the topics. If a batch's transaction fails because of the data (not because the
database is away), ``BatchConsumer`` writes it again in halves, each in a transaction of its
own, down to the one message that fails alone, which goes to the dead-letter topic: one bad row
(a database error, or asyncpg's own refusal of a value) cannot stall the projections.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import Field, TypeAdapter

from contracts.envelope import DecisionRecord, Outcome, SideStatus
from contracts.topics import PROJECTIONS_CONSUMER, SYNC_DECISIONS, SYNC_OUTCOMES
from projections import positions
from projections.apply import apply_messages
from projections.database import UNAVAILABLE_ERRORS, Database
from services.core.batch_consumer import BatchConsumer, Received
from services.core.errors import TransientError
from services.core.publisher import Publisher
from services.core.settings import Settings

PROJECTION = "projections"

Projected = Outcome | DecisionRecord | SideStatus
ProjectedMessage = Annotated[Projected, Field(discriminator="message_type")]


class ProjectionConsumer(BatchConsumer[Projected]):
    stage = "project"

    def __init__(self, *, database: Database, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.database = database
        self._passed_over = False

    async def consume(self, records: Sequence[ConsumerRecord]) -> None:
        """The batch; then, if some of it was dead-lettered or passed over (a tombstone), the
        tracking rows moved to the batch's end too: those messages are handled, and a partition
        ending in one is caught up (``projections rebuild`` and lag checks read the positions)."""
        self._passed_over = False
        await super().consume(records)
        if self._passed_over:
            try:
                async with self.database.pool.acquire() as connection:
                    await positions.save(connection, PROJECTION, records)
            except UNAVAILABLE_ERRORS as exc:  # the batch is read again; its messages are repeats
                raise TransientError(f"projections database unavailable: {exc}") from exc

    async def _decode(self, record: ConsumerRecord) -> Received[Projected] | None:
        item = await super()._decode(record)
        self._passed_over |= item is None
        return item

    async def _dead_letter(self, item: Received[Projected], exc: BaseException) -> None:
        self._passed_over = True
        await super()._dead_letter(item, exc)

    async def handle_batch(self, received: list[Received[Projected]]) -> None:
        if not received:
            return
        for item in received:
            # A span per message keeps each change's trace whole; the batch is written once below.
            with self._span(item.record, item.message):
                pass
        try:
            await self._write(received)
        except UNAVAILABLE_ERRORS as exc:
            raise TransientError(f"projections database unavailable: {exc}") from exc

    async def _write(self, received: list[Received[Projected]]) -> None:
        async with self.database.pool.acquire() as connection, connection.transaction():
            seen = await positions.load(connection, PROJECTION, (i.record.topic for i in received))
            fresh = [i.message for i in received if positions.is_new(seen, i.record)]
            await apply_messages(connection, fresh)
            await positions.save(connection, PROJECTION, (i.record for i in received))


def register(
    broker: KafkaBroker, publisher: Publisher, settings: Settings, database: Database
) -> BatchConsumer[Any]:
    return ProjectionConsumer(
        database=database,
        broker=broker,
        publisher=publisher,
        settings=settings,
        consumer=PROJECTIONS_CONSUMER,
        topics=[SYNC_OUTCOMES, SYNC_DECISIONS],
        adapter=TypeAdapter(ProjectedMessage),
    ).register(broker)
