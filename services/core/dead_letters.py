"""Dead-letter topics: a message that cannot be handled is kept, with where it came from and why.

The original key, value and headers are preserved byte for byte, so ``dlq replay`` can put the
message back exactly as it was once the cause is fixed.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from contracts import headers
from contracts.topics import dead_letter_topic
from services.core import metrics, safe_errors
from services.core.settings import Settings

log = logging.getLogger(__name__)

_MAX_REASON = 2000


class DeadLetters:
    def __init__(self, broker: KafkaBroker, settings: Settings, consumer: str) -> None:
        self._broker = broker
        self._consumer = consumer
        self.topic = settings.topic(dead_letter_topic(consumer))

    async def send(
        self, record: ConsumerRecord, stage: str, reason: str, exc: BaseException | None = None
    ) -> None:
        """Store the message on this consumer's dead-letter topic and wait until Kafka has it."""
        original = {k: v.decode("utf-8", "replace") for k, v in record.headers or () if v is not None}
        extra = {
            headers.DLQ_REASON: reason[:_MAX_REASON],
            headers.DLQ_STAGE: stage,
            headers.DLQ_CONSUMER: self._consumer,
            headers.DLQ_SOURCE_TOPIC: record.topic,
            headers.DLQ_SOURCE_PARTITION: str(record.partition),
            headers.DLQ_SOURCE_OFFSET: str(record.offset),
            headers.DLQ_FAILED_AT: datetime.now(UTC).isoformat(),
        }
        if exc is not None:
            extra[headers.DLQ_EXCEPTION] = "".join(traceback.format_exception_only(exc)).strip()[:_MAX_REASON]
        await self._broker.publish(
            record.value or b"",
            topic=self.topic,
            key=record.key,
            headers={**original, **extra},
        )
        metrics.DEAD_LETTERED.labels(self._consumer, stage).inc()
        log.warning(
            "dead-lettered a message",
            extra={
                "consumer": self._consumer,
                "stage": stage,
                # The reason may quote the message's values (it stays on the dead-letter topic).
                "reason": safe_errors.describe(exc) if exc is not None else reason[:300],
                "source_topic": record.topic,
                "source_partition": record.partition,
                "source_offset": record.offset,
            },
        )
