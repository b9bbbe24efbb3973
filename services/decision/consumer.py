"""Reads the change topics, applies the rules, publishes the decision record and its commands.

Both are keyed by the record the change concerns, so everything about one record stays in order.
Per batch: load the state the rules read, decide every change, write what the decision learnt
(write intents, deletions, versions seen) in one transaction, and only then publish. A batch
whose write fails publishes nothing, so when the batch is handled again in halves to find the
message at fault (``BatchConsumer``), each good change is published once and the bad one is
dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import context, trace
from opentelemetry.context import Context
from pydantic import TypeAdapter

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, DecisionRecord, EntityType, SourceSystem
from contracts.ids import decision_id
from contracts.topics import CHANGE_TOPICS, COMMAND_TOPICS, DECISION_CONSUMER, SYNC_DECISIONS, record_key
from projections import decision_state, drifti_accounts
from projections.database import UNAVAILABLE_ERRORS, Database
from services.core import metrics
from services.core.batch_consumer import BatchConsumer, Received
from services.core.errors import TransientError
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.decision.decide import decide
from services.decision.links import NO_LINKS, LinkKey
from services.decision.rules.drifti_invoices import NO_ACCOUNTS, AccountMap
from services.decision.rules.text import text_problem
from services.decision.ruling import Ruling

# One decision per change: its id comes from the change alone, not from the ruling. A change read
# again (a consumer-group reset, a redelivered batch, a webhook sent twice) is decided again with
# the state it left behind, so the ruling differs (``skip``: an echo, an overtaken delivery); under
# the same id the projections recognise it as decided already and apply nothing of it.
DECIDED = "change"


def decision_record(event: ChangeEvent, ruling: Ruling) -> DecisionRecord:
    return DecisionRecord(
        tenant_id=event.tenant_id,
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        decision_id=decision_id(event.event_id, DECIDED),
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


@dataclass(frozen=True)
class _Decided:
    """One change's decision, to publish once the batch's state is written."""

    event: ChangeEvent
    ruling: Ruling
    trace_context: Context  # the change's consumer span: the publications continue its trace


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
        self._decided: list[_Decided] = []

    async def handle_batch(self, received: list[Received[ChangeEvent]]) -> None:
        # A record whose text cannot be stored is rejected without reading any state (S-X2): its
        # natural keys must not reach a query.
        events = [item.message for item in received if text_problem(item.message.snapshot) is None]
        keys = [key for event in events for key in link_keys(event)]
        self._decided = []
        try:
            # Links, creates in flight, deletions (S-P7) and the newest versions seen, in one go.
            self.links = await decision_state.load(self.database.pool, events, keys)
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
            # Before anything is published, and long before a writer's round trip and the other
            # side's webhook can bring the echo back.
            await decision_state.save(
                self.database.pool,
                [(d.event, d.ruling) for d in self._decided],
                # Write intents recognise a two-way echo; Drifti's one-way creates have none, and
                # an intent under a customer's number would hide that customer's own Tripletex change.
                [c for d in self._decided for c in d.ruling.commands if c.source is not SourceSystem.DRIFTI],
            )
        except UNAVAILABLE_ERRORS as exc:
            raise TransientError(f"link table unavailable: {exc}") from exc
        for decided in self._decided:
            await self._publish(decided)

    async def handle(self, item: Received[ChangeEvent]) -> None:
        event = item.message
        ruling = decide(event, self.links, self.accounts)
        # The decision hop of the trace is this message's consumer span: it says what was decided.
        trace.get_current_span().set_attributes(
            {"tsync.rule_id": ruling.rule_id, "tsync.verdict": ruling.verdict.value}
        )
        # The next change of this batch (a create and its delete delivered together) sees it.
        self.links = self.links.remember(ruling.commands, ruling.deleted, decision_state.seen_key(event))
        self._decided.append(_Decided(event, ruling, context.get_current()))

    async def _publish(self, decided: _Decided) -> None:
        event, ruling = decided.event, decided.ruling
        metrics.DECISIONS.labels(ruling.rule_id, ruling.verdict.value).inc()
        key = record_key(event.tenant_id, event.entity_type, event.entity_id)
        token = context.attach(decided.trace_context)
        try:
            await self.publish(SYNC_DECISIONS, key, decision_record(event, ruling))
            for command in ruling.commands:
                await self.publish(COMMAND_TOPICS[command.target], key, command)
        finally:
            context.detach(token)


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
