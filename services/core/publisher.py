"""Publishes wire messages: record key, ids and trace context in headers.

``send`` hands a message to the producer and returns the future of Kafka's confirmation; a
consumer keeps the futures of its batch and awaits them all before its offsets are committed
(``services.core.batch_consumer``), so nothing is acknowledged that Kafka has not stored, and
the producer can pipeline. One publisher serves every consumer of the process. The producer is aiokafka's own,
idempotent (``acks=all``): going through FastStream's publish path per message cost more than
deciding the message (bench/decision_throughput.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from contracts import headers
from contracts.envelope import WireMessage
from contracts.topics import PER_MESSAGE_KEYS, message_key
from services.core import kafka_security, metrics, tracing
from services.core.settings import Settings


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self._producer is None:
            producer = kafka_security.producer(
                self._settings,
                client_id=f"{self._settings.service_name}-publisher",
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
            )
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def store(self, topic: str, key: bytes, message: WireMessage) -> None:
        """Publish ``message`` and wait until Kafka has stored it, for at most ``PUBLISH_TIMEOUT_S``.

        For a caller that answers someone (a webhook, the ingest API, the panel): while Kafka is
        away the producer would wait for it for its whole request timeout, and the sender would
        give up on a delivery that hangs. ``TimeoutError`` instead lets it answer 503 at once, and
        the sender retries; a copy that still reaches Kafka later has the same event id, which
        everything downstream absorbs.
        """
        async with asyncio.timeout(self._settings.publish_timeout_s):
            await (await self.send(topic, key, message))

    async def send(self, topic: str, key: bytes, message: WireMessage) -> asyncio.Future[Any]:
        """Hand ``message`` to the producer; the returned future resolves once Kafka has stored it.

        ``topic`` is a name from contracts.topics; the deployment's prefix is added here.
        """
        if self._producer is None:
            raise RuntimeError("publisher not started")
        name = self._settings.topic(topic)
        with tracing.produce_span(
            name, {"messaging.message.id": str(message.message_id), "tsync.tenant_id": message.tenant_id}
        ):
            message = message.model_copy(update={"trace": tracing.current_trace_context()})
            outgoing = tracing.inject_headers(
                {
                    headers.MESSAGE_ID: str(message.message_id),
                    headers.MESSAGE_TYPE: message.message_type,
                    headers.TENANT: message.tenant_id,
                }
            )
            partition = None
            if topic in PER_MESSAGE_KEYS:
                # Compacted topics: a key per message, the partition still the record's (its order).
                partition = DefaultPartitioner()(key, sorted(await self._producer.partitions_for(name)), [])
                key = message_key(key, message.message_id)
            metrics.PUBLISHED.labels(name).inc()
            return await self._producer.send(
                name,
                message.model_dump_json().encode(),
                key=key,
                partition=partition,
                headers=[(k, v.encode()) for k, v in outgoing.items()],
            )
