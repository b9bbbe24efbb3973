"""Message envelopes: change events in, commands between services, outcomes out.

Every message carries a schema version, the tenant, its own id (the idempotency key
downstream), and correlation/causation ids so a chain of messages can be followed from the
first webhook to the last write. Trace context travels in Kafka headers; a copy in the body
survives tools that drop headers (a DLQ replay, a topic copied by hand).

Ids, versions and codes are bounded as PostgreSQL stores them (``contracts.bounds``): a message
that passes its contract cannot stop a consumer at its database write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.bounds import MAX_ITEMS, BigInt, Code, Explanation, Identifier, Reference, Version
from contracts.entities import EntitySnapshot

TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
EntityId = Identifier
Ids = Annotated[tuple[Reference, ...], Field(max_length=MAX_ITEMS)]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SourceSystem(StrEnum):
    SVENN = "svenn"
    TRIPLETEX = "tripletex"
    DRIFTI = "drifti"


class EntityType(StrEnum):
    PROJECT = "project"
    CUSTOMER = "customer"
    EMPLOYEE = "employee"
    # Drifti -> Tripletex only (Part 2): an invoice or credit note becomes a voucher (D-I1), a
    # payment a payment voucher (D-P1). A Drifti job is a PROJECT, a Drifti customer a CUSTOMER.
    INVOICE = "invoice"
    PAYMENT = "payment"
    # A Drifti hourly rate becomes a Tripletex activity (D-A1), made by the hours export.
    ACTIVITY = "activity"


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    DELETED = "deleted"


class Operation(StrEnum):
    # Find the record on the target side by its natural key (number, e-mail) and link it; create it
    # only when nothing matches (S-P4, D-C1, D-J2). Never a blind create: Tripletex has no idempotency key.
    CREATE = "create"
    # Bring the linked record to the payload's state (fields the rules protect are left alone).
    UPDATE = "update"
    DELETE = "delete"
    # Mark the linked project completed (Svenn) / closed (Tripletex), touching nothing else (S-P7).
    COMPLETE = "complete"
    # Write a generated number back to the record on the target side (S-P5, S-E2).
    ASSIGN_NUMBER = "assign_number"


class LinkState(StrEnum):
    ABSENT = "absent"
    LINKED = "linked"
    BROKEN = "broken"


class OutcomeStatus(StrEnum):
    APPLIED = "applied"
    SKIPPED = "skipped"
    FAILED = "failed"


class Verdict(StrEnum):
    COMMAND = "command"  # the rule asked a writer to do something
    SKIP = "skip"  # the rule says nothing is to be done (not an error)
    REJECT = "reject"  # the record cannot be synced until someone fixes it: an error-log entry


class LinkEffect(StrEnum):
    NONE = "none"
    BREAK = "break"  # S-C5: a customer deleted in Svenn is no longer synced
    RESTORE = "restore"  # an operator restored a broken link


class TraceContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    traceparent: Annotated[str, StringConstraints(max_length=100)]
    tracestate: Annotated[str, StringConstraints(max_length=1024)] | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    tenant_id: TenantId
    correlation_id: UUID
    causation_id: UUID | None = None
    trace: TraceContext | None = None


class ChangeEvent(_Envelope):
    """A record changed on one side. Same record version on the same side => same ``event_id``."""

    message_type: Literal["change_event"] = "change_event"
    event_id: UUID
    source: SourceSystem
    entity_type: EntityType
    entity_id: EntityId
    change_kind: ChangeKind
    occurred_at: AwareDatetime
    source_version: Version | None = None
    snapshot: EntitySnapshot | None = Field(default=None, description="None when the record was deleted")

    @property
    def message_id(self) -> UUID:
        return self.event_id


class DecisionRecord(_Envelope):
    """Why the engine did (or did not do) something about one change: answerable from the topics."""

    message_type: Literal["decision"] = "decision"
    decision_id: UUID
    cause_event_id: UUID
    source: SourceSystem
    entity_type: EntityType
    entity_id: EntityId
    rule_id: Code
    verdict: Verdict
    reason: Explanation
    error_code: Code | None = None
    link_effect: LinkEffect = LinkEffect.NONE
    command_ids: tuple[UUID, ...] = ()
    decided_at: AwareDatetime = Field(default_factory=utc_now)

    @property
    def message_id(self) -> UUID:
        return self.decision_id


class ExpectedLink(BaseModel):
    """What the decision believed about the link when it decided; a writer that finds otherwise stops."""

    model_config = ConfigDict(frozen=True)

    state: LinkState
    target_entity_id: Reference | None = None


class Command(_Envelope):
    """Asks one writer to change one record on one side. ``command_id`` is the writer's idempotency key."""

    message_type: Literal["command"] = "command"
    command_id: UUID
    source: SourceSystem
    target: SourceSystem
    operation: Operation
    entity_type: EntityType
    source_entity_id: EntityId
    payload: EntitySnapshot | None = None
    # For an update: the fields this change altered since the last sync (None: all). The writer
    # writes only these, so a concurrent change to other fields on the target side survives.
    changed_fields: Annotated[tuple[Code, ...], Field(max_length=MAX_ITEMS)] | None = None
    # S-P8, a project written to Tripletex: the Tripletex employees of its members whose employees
    # are linked, and those of members the change removed. None: participants are left alone.
    participants: Ids | None = None
    former_participants: Ids = ()
    # For an update: what the target record held after the engine's last write to it (or will,
    # once a write in flight lands). A field the target has changed since is a concurrent edit
    # of the same field; the conflict policy decides it (README: Tripletex wins).
    base: EntitySnapshot | None = None
    # ... and the target record's newest version the decision had seen: a target now at a newer
    # version was changed meanwhile, and only then can a field be a concurrent edit.
    base_version: BigInt | None = None
    expected_link: ExpectedLink
    rule_id: Code
    issued_at: AwareDatetime = Field(default_factory=utc_now)

    @property
    def message_id(self) -> UUID:
        return self.command_id


class Outcome(_Envelope):
    """What a writer did with a command."""

    message_type: Literal["outcome"] = "outcome"
    outcome_id: UUID
    command_id: UUID
    source: SourceSystem
    target: SourceSystem
    operation: Operation
    entity_type: EntityType
    source_entity_id: EntityId
    target_entity_id: Reference | None = None
    status: OutcomeStatus
    rule_id: Code
    # What both sides now hold (for an applied create/update): the link table keeps it, and the
    # decision recognises the same content coming back from the other side as an echo.
    written: EntitySnapshot | None = None
    # The target record's own version after the write: a change event from that side with this
    # version or an older one is the engine's write (or something older) coming back.
    target_version: Version | None = None
    reason: Explanation | None = None
    error_code: Code | None = None
    error_message: Explanation | None = None
    occurred_at: AwareDatetime = Field(default_factory=utc_now)

    @property
    def message_id(self) -> UUID:
        return self.outcome_id


class SideStatus(_Envelope):
    """A tenant's side stopped answering the writers for ``API_UNREACHABLE_AFTER_S``, or answers
    again (S-X1): one error-log entry per tenant and side, opened and resolved by these.

    Published by the writer that parked the tenant's commands (``services.tenants.outages``) on
    ``sync.outcomes.v1``; ``since`` is when the side stopped answering, ``target`` the writer whose
    commands wait. Its id derives from (tenant, target, side, since, reachable): a repeat is absorbed.
    """

    message_type: Literal["side_status"] = "side_status"
    status_id: UUID
    target: SourceSystem
    side: SourceSystem
    reachable: bool
    # What is wrong: the side does not answer the writers (API_UNREACHABLE), or Tripletex sends no
    # webhooks because subscriptions are off and could not be switched on (TRIPLETEX_WEBHOOKS_OFF;
    # published by the ingest's subscription check, ``reachable`` meaning "all active again").
    problem: Literal["unreachable", "webhooks_off"] = "unreachable"
    since: AwareDatetime
    detail: Explanation
    occurred_at: AwareDatetime = Field(default_factory=utc_now)

    @property
    def message_id(self) -> UUID:
        return self.status_id


WireMessage = ChangeEvent | Command | Outcome | DecisionRecord | SideStatus
