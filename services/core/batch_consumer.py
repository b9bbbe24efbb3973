"""The shape every consumer of the engine shares: take a batch, decode each message, handle, commit.

- Decoding is per message: a malformed message goes to the consumer's dead-letter topic with
  the reason, and the rest of the batch goes on (a consumer never dies on one bad message). A
  tombstone (a key with a null value: an erased message) is passed over; an empty value is
  malformed.
- Each message is handled inside a consumer span whose parent is the trace in its headers.
- An outage (``services.core.errors.is_transient``: a ``TransientError``, Kafka, the database
  away, a timeout) leaves the batch uncommitted: FastStream seeks back and the batch is read
  again after a pause. Any other error is the fault of one message: when ``handle_batch`` fails
  with one, the batch is split in halves and each half handled again, down to the one message
  that fails alone, which goes to the dead-letter topic with the reason; the rest is handled and
  committed. A subclass whose ``handle_batch`` writes before it publishes (the decision) thus
  publishes each good message once.
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

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import Status, StatusCode
from pydantic import TypeAdapter, ValidationError

from contracts.envelope import WireMessage
from services.core import metrics, safe_errors, tracing
from services.core.dead_letters import DeadLetters
from services.core.errors import is_transient
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tolerant_parsing import raw_records, readable_headers

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
            # FastStream's parsing must not fail on what a message carries (a header that is not
            # UTF-8, a content-type it acts on): that failed the batch forever. Decoding is ours.
            parser=readable_headers,
            decoder=raw_records,
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
            await self._handle_isolating(received)
            # Commit only what Kafka has stored: wait for every send of this batch, and only this one.
            pending, self._pending = self._pending, []
            await asyncio.gather(*pending)
        except Exception as exc:
            # Nothing of this batch is committed; FastStream seeks back and it is read again.
            self._pending = []
            log.warning(
                "batch failed and will be retried",
                extra={
                    "consumer": self.consumer,
                    "records": len(records),
                    "error": safe_errors.describe(exc),
                },
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

    async def _handle_isolating(self, received: list[Received[M]]) -> None:
        """``handle_batch``; on a failure that is no outage, the halves again, down to the bad message.

        One bad message in a batch of n costs about 2·log2(n) extra sub-batches, and every other
        message is handled once more at most per level; ``handle_batch`` must therefore leave
        nothing half done when it raises (write in one transaction, publish after writing).
        """
        try:
            await self.handle_batch(received)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(received) > 1:
                log.warning(
                    "a message of the batch failed: handling the batch in halves to find it",
                    extra={
                        "consumer": self.consumer,
                        "records": len(received),
                        "error": safe_errors.describe(exc),
                    },
                )
                half = len(received) // 2
                await self._handle_isolating(received[:half])
                await self._handle_isolating(received[half:])
            elif received:
                await self._dead_letter(received[0], exc)
            else:
                log.error(
                    "an empty batch failed",
                    extra={"consumer": self.consumer, "error": safe_errors.describe(exc)},
                )

    async def _dead_letter(self, item: Received[M], exc: BaseException) -> None:
        with self._span(item.record, item.message) as span:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            await self.dead_letters.send(item.record, self.stage, f"{type(exc).__name__}: {exc}", exc)

    async def _decode(self, record: ConsumerRecord) -> Received[M] | None:
        if record.value is None:
            if record.key:
                # A tombstone (``tsync tenants offboard`` erasing a compacted topic's messages):
                # it asks for nothing, so it is passed over, never dead-lettered.
                return None
            with self._span(record, None):
                await self.dead_letters.send(record, "decode", "null message value without a key")
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
                    if is_transient(exc):
                        raise
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await self.dead_letters.send(item.record, self.stage, f"{type(exc).__name__}: {exc}", exc)

    async def handle(self, item: Received[M]) -> None:
        raise NotImplementedError

    async def publish(self, topic: str, key: bytes, message: WireMessage) -> None:
        """Publish as part of the current batch: its offsets are committed only once Kafka has it."""
        self._pending.append(await self.publisher.send(topic, key, message))
