"""Publishes wire messages: record key, ids and trace context in headers, confirmations per batch.

Sends are not awaited one by one: a consumer queues all its output for a batch and awaits the
confirmations once (``flush``) before its offsets are committed, so nothing is acknowledged
that Kafka has not stored, and the producer can pipeline.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from contracts import headers
from contracts.envelope import WireMessage
from services.core import tracing
from services.core.settings import Settings


class Publisher:
    def __init__(self, broker: KafkaBroker, settings: Settings) -> None:
        self._broker = broker
        self._settings = settings
        self._pending: list[asyncio.Future[Any]] = []

    async def publish(self, topic: str, key: bytes, message: WireMessage) -> None:
        """Queue ``message`` on ``topic``; ``flush`` waits for it. ``topic`` is a contracts.topics name."""
        self._pending.append(await self.send(topic, key, message))

    async def send(self, topic: str, key: bytes, message: WireMessage) -> asyncio.Future[Any]:
        """Hand ``message`` to the producer; the returned future resolves once Kafka has stored it."""
        name = self._settings.topic(topic)
        with tracing.produce_span(name, {"messaging.message.id": str(message.message_id)}):
            message = message.model_copy(update={"trace": tracing.current_trace_context()})
            outgoing = tracing.inject_headers(
                {
                    headers.MESSAGE_ID: str(message.message_id),
                    headers.MESSAGE_TYPE: message.message_type,
                    headers.TENANT: message.tenant_id,
                }
            )
            future = await self._broker.publish(
                message.model_dump_json().encode(),
                topic=name,
                key=key,
                headers=outgoing,
                no_confirm=True,
            )
        return future

    async def flush(self) -> None:
        """Wait until Kafka has stored everything queued so far; raises if any send failed."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
