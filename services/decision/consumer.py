"""Reads the change topics, applies the rules, publishes commands keyed by the record they concern."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from contracts.envelope import ChangeEvent
from contracts.topics import CHANGE_TOPICS, COMMAND_TOPICS, DECISION_CONSUMER, record_key
from services.core.batch_consumer import BatchConsumer, Received
from services.core.settings import Settings
from services.decision.decide import decide
from services.decision.links import NO_LINKS


class DecisionConsumer(BatchConsumer[ChangeEvent]):
    stage = "decide"

    async def handle(self, item: Received[ChangeEvent]) -> None:
        event = item.message
        for command in decide(event, NO_LINKS):
            key = record_key(command.tenant_id, command.entity_type, command.source_entity_id)
            await self.publisher.publish(COMMAND_TOPICS[command.target], key, command)


def register(broker: KafkaBroker, settings: Settings) -> None:
    DecisionConsumer(
        broker=broker,
        settings=settings,
        consumer=DECISION_CONSUMER,
        topics=list(CHANGE_TOPICS.values()),
        adapter=TypeAdapter(ChangeEvent),
    ).register(broker)
