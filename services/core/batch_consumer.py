"""The shape every consumer of the engine shares: take a batch, decode each message, handle, commit.

- Decoding is per message: a malformed message goes to the consumer's dead-letter topic with
  the reason, and the rest of the batch goes on (a consumer never dies on one bad message).
- Each message is handled inside a consumer span whose parent is the trace in its headers.
- A ``TransientError`` (or an error from Kafka itself) leaves the batch uncommitted: FastStream
  seeks back and the batch is read again after a pause. Any other error dead-letters the one
  message that caused it.
- Logging is per batch, not per message (the hot path).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import Status, StatusCode
from pydantic import TypeAdapter, ValidationError

from contracts.envelope import WireMessage
from services.core import metrics, tracing
from services.core.dead_letters import DeadLetters
from services.core.errors import TransientError
from services.core.publisher import Publisher
from services.core.settings import Settings

log = logging.getLogger(__name__)

M = TypeVar("M")

RETRY_PAUSE_S = 1.0


@dataclass(frozen=True)
class Received(Generic[M]):
    record: ConsumerRecord
    message: M


def describe_validation_error(exc: ValidationError) -> str:
    """A short, readable reason: ``field.path: what is wrong`` for each problem."""
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error["loc"]) or "(message)"
        parts.append(f"{where}: {error['msg']}")
    return f"invalid {exc.title}: " + "; ".join(parts)


class BatchConsumer(Generic[M]):
    """Decodes batches of one message type and routes failures; subclasses say what handling means."""

    stage = "handle"

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        publisher: Publisher,
        settings: Settings,
        consumer: str,
        topics: Sequence[str],
        adapter: TypeAdapter[M],
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.topics = [settings.topic(t) for t in topics]
        self.adapter = adapter
        self.dead_letters = DeadLetters(broker, settings, consumer)
        self.publisher = publisher
        self._pending: list[asyncio.Future[Any]] = []

    def register(self, broker: KafkaBroker) -> BatchConsumer[M]:
        async def handle_batch(msg: KafkaMessage) -> None:
            records: tuple[ConsumerRecord, ...] = msg.raw_message
            await self.consume(records)

        handle_batch.__name__ = f"{self.consumer.replace('-', '_')}_batch"
        broker.subscriber(
            *self.topics,
            group_id=self.settings.group(self.consumer),
            batch=True,
            max_records=self.settings.batch_max_records,
            batch_timeout_ms=self.settings.batch_timeout_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )(handle_batch)
        return self

    async def aclose(self) -> None:
        """Release what the consumer holds (HTTP clients); the runtime calls it after the broker stops."""

    async def consume(self, records: Sequence[ConsumerRecord]) -> None:
        started = time.perf_counter()
        for topic, count in Counter(r.topic for r in records).items():
            metrics.CONSUMED.labels(self.consumer, topic).inc(count)
        try:
            received = [item for record in records if (item := await self._decode(record)) is not None]
            await self.handle_batch(received)
            # Commit only what Kafka has stored: wait for every send of this batch, and only this one.
            pending, self._pending = self._pending, []
            await asyncio.gather(*pending)
        except Exception as exc:
            # Nothing of this batch is committed; FastStream seeks back and it is read again.
            self._pending = []
            log.warning(
                "batch failed and will be retried",
                extra={"consumer": self.consumer, "records": len(records), "error": repr(exc)},
            )
            metrics.BATCHES_RETRIED.labels(self.consumer).inc()
            await asyncio.sleep(RETRY_PAUSE_S)
            raise
        metrics.BATCH_SECONDS.labels(self.consumer).observe(time.perf_counter() - started)
        log.info(
            "batch done",
            extra={
                "consumer": self.consumer,
                "records": len(records),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    async def _decode(self, record: ConsumerRecord) -> Received[M] | None:
        if record.value is None:
            with self._span(record, None):
                await self.dead_letters.send(record, "decode", "empty message value (tombstone)")
            return None
        try:
            message = self.adapter.validate_json(record.value)
        except ValidationError as exc:
            with self._span(record, None) as span:
                span.set_status(Status(StatusCode.ERROR, "malformed message"))
                await self.dead_letters.send(record, "decode", describe_validation_error(exc), exc)
            return None
        return Received(record, message)

    def _span(self, record: ConsumerRecord, message: Any) -> Any:
        parent = tracing.context_from(record.headers, getattr(message, "trace", None))
        attributes: dict[str, Any] = {
            "messaging.kafka.destination.partition": record.partition,
            "messaging.kafka.message.offset": record.offset,
        }
        if message is not None:
            attributes["tsync.tenant_id"] = message.tenant_id
        return tracing.consume_span(record.topic, self.consumer, parent, attributes)

    async def handle_batch(self, received: list[Received[M]]) -> None:
        """Default: handle messages one by one, in order, each in its own span."""
        for item in received:
            with self._span(item.record, item.message) as span:
                try:
                    await self.handle(item)
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await self.dead_letters.send(item.record, self.stage, f"{type(exc).__name__}: {exc}", exc)

    async def handle(self, item: Received[M]) -> None:
        raise NotImplementedError

    async def publish(self, topic: str, key: bytes, message: WireMessage) -> None:
        """Publish as part of the current batch: its offsets are committed only once Kafka has it."""
        self._pending.append(await self.publisher.send(topic, key, message))


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError | KafkaError | ConnectionError | asyncio.TimeoutError)
