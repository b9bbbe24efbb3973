"""Reads the change topics, applies the rules, publishes the decision record and its commands.

Both are keyed by the record the change concerns, so everything about one record stays in order.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from contracts.envelope import ChangeEvent, DecisionRecord
from contracts.ids import decision_id
from contracts.topics import CHANGE_TOPICS, COMMAND_TOPICS, DECISION_CONSUMER, SYNC_DECISIONS, record_key
from services.core.batch_consumer import BatchConsumer, Received
from services.core.settings import Settings
from services.decision.decide import decide
from services.decision.links import NO_LINKS
from services.decision.ruling import Ruling


def decision_record(event: ChangeEvent, ruling: Ruling) -> DecisionRecord:
    return DecisionRecord(
        tenant_id=event.tenant_id,
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        decision_id=decision_id(event.event_id, ruling.rule_id),
        cause_event_id=event.event_id,
        source=event.source,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        rule_id=ruling.rule_id,
        verdict=ruling.verdict,
        reason=ruling.reason,
        error_code=ruling.error_code,
        link_effect=ruling.link_effect,
        command_ids=tuple(c.command_id for c in ruling.commands),
    )


class DecisionConsumer(BatchConsumer[ChangeEvent]):
    stage = "decide"

    async def handle(self, item: Received[ChangeEvent]) -> None:
        event = item.message
        ruling = decide(event, NO_LINKS)
        key = record_key(event.tenant_id, event.entity_type, event.entity_id)
        await self.publisher.publish(SYNC_DECISIONS, key, decision_record(event, ruling))
        for command in ruling.commands:
            await self.publisher.publish(COMMAND_TOPICS[command.target], key, command)


def register(broker: KafkaBroker, settings: Settings) -> None:
    DecisionConsumer(
        broker=broker,
        settings=settings,
        consumer=DECISION_CONSUMER,
        topics=list(CHANGE_TOPICS.values()),
        adapter=TypeAdapter(ChangeEvent),
    ).register(broker)
