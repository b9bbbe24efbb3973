"""Reads the change topics, applies the rules, publishes the decision record and its commands.

Both are keyed by the record the change concerns, so everything about one record stays in order.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import trace
from pydantic import TypeAdapter

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, Command, DecisionRecord, EntityType, SourceSystem
from contracts.ids import decision_id
from contracts.topics import CHANGE_TOPICS, COMMAND_TOPICS, DECISION_CONSUMER, SYNC_DECISIONS, record_key
from projections import decision_state, drifti_accounts, links
from projections.database import UNAVAILABLE_ERRORS, Database
from services.core import metrics
from services.core.batch_consumer import BatchConsumer, Received
from services.core.errors import TransientError
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.decision.decide import decide
from services.decision.links import NO_LINKS, LinkKey
from services.decision.rules.drifti_invoices import NO_ACCOUNTS, AccountMap
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


def link_keys(event: ChangeEvent) -> list[LinkKey]:
    """The links a change's rules may read: its own record's, and its participants' (S-P8)."""
    keys: list[LinkKey] = [(event.tenant_id, event.entity_type, event.source, event.entity_id)]
    if isinstance(event.snapshot, ProjectSnapshot):
        keys += [(event.tenant_id, EntityType.EMPLOYEE, event.source, m) for m in event.snapshot.member_ids]
    return keys


class DecisionConsumer(BatchConsumer[ChangeEvent]):
    """Loads the links a batch needs once, then decides each change with them.

    Links come from the link-table projection, which trails the topics by a moment: a change
    arriving before the link of an earlier create is projected is decided as unlinked, and
    the writer's match-by-number turns that create into a link instead of a duplicate.
    """

    stage = "decide"

    def __init__(self, *, database: Database, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.database = database
        self.links = NO_LINKS
        self.accounts: AccountMap = NO_ACCOUNTS
        self._issued: list[Command] = []
        self._decided: list[tuple[ChangeEvent, Ruling]] = []

    async def handle_batch(self, received: list[Received[ChangeEvent]]) -> None:
        keys = [key for item in received for key in link_keys(item.message)]
        self._issued = []
        self._decided = []
        try:
            # Links, creates in flight, deletions (S-P7) and the newest versions seen, in one go.
            self.links = await decision_state.load(
                self.database.pool, [item.message for item in received], keys
            )
            # D-L1: the account mapping of the tenants whose Drifti invoices are in this batch.
            self.accounts = await drifti_accounts.load(
                self.database.pool,
                (
                    item.message.tenant_id
                    for item in received
                    if item.message.source is SourceSystem.DRIFTI
                    and item.message.entity_type is EntityType.INVOICE
                ),
            )
            await super().handle_batch(received)
            # Before the batch commits, and long before a writer's round trip and the other side's
            # webhook can bring the echo back.
            await links.record_intents(self.database.pool, self._issued)
            await decision_state.save(self.database.pool, self._decided)
        except UNAVAILABLE_ERRORS as exc:
            raise TransientError(f"link table unavailable: {exc}") from exc

    async def handle(self, item: Received[ChangeEvent]) -> None:
        event = item.message
        ruling = decide(event, self.links, self.accounts)
        metrics.DECISIONS.labels(ruling.rule_id, ruling.verdict.value).inc()
        # The decision hop of the trace is this message's consumer span: it says what was decided.
        trace.get_current_span().set_attributes(
            {"tsync.rule_id": ruling.rule_id, "tsync.verdict": ruling.verdict.value}
        )
        key = record_key(event.tenant_id, event.entity_type, event.entity_id)
        await self.publish(SYNC_DECISIONS, key, decision_record(event, ruling))
        for command in ruling.commands:
            await self.publish(COMMAND_TOPICS[command.target], key, command)
        # Write intents recognise a two-way echo; Drifti's one-way creates have none, and an
        # intent under a customer's number would hide that customer's own Tripletex change.
        self._issued.extend(c for c in ruling.commands if c.source is not SourceSystem.DRIFTI)
        # The next change of this batch (a create and its delete delivered together) sees it.
        self.links = self.links.remember(ruling.commands, ruling.deleted, decision_state.seen_key(event))
        self._decided.append((event, ruling))


def register(
    broker: KafkaBroker, publisher: Publisher, settings: Settings, database: Database
) -> BatchConsumer[Any]:
    return DecisionConsumer(
        database=database,
        broker=broker,
        publisher=publisher,
        settings=settings,
        consumer=DECISION_CONSUMER,
        topics=list(CHANGE_TOPICS.values()),
        adapter=TypeAdapter(ChangeEvent),
    ).register(broker)
