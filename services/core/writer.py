"""What every writer shares: consume commands for one side, apply each, publish its outcome.

Each side's writer (``services/tripletex/writer.py``, ``services/svenn/writer.py``) overrides
``apply``. The base only *records* a command and reports it ``skipped`` with reason
``RECORD_ONLY`` — the truth about what happened — for a side that has no writer yet.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from pydantic import TypeAdapter, ValidationError

from contracts.bounds import Version
from contracts.entities import EntitySnapshot
from contracts.envelope import Command, Operation, Outcome, OutcomeStatus
from contracts.ids import outcome_id
from contracts.topics import SYNC_OUTCOMES, record_key
from services.core import metrics
from services.core.batch_consumer import BatchConsumer, Received
from services.core.tenants import TenantDirectory
from services.core.write_gate import TENANT_PAUSED, Admission, WriteGate

RECORD_ONLY = "RECORD_ONLY"
_WRITES = (Operation.CREATE, Operation.UPDATE)


class CommandWriter(BatchConsumer[Command]):
    """Record-only writer; a side's real writer overrides ``apply``.

    ``apply`` returns the outcome (applied / skipped / failed with an error code from
    ``contracts.error_codes``) for anything the command itself decides; it raises
    ``TransientError`` when the side cannot be reached, so the batch is retried rather than
    dead-lettered. It must be idempotent: the same command may arrive twice (redelivery, a crash
    between the write and the offset commit) and must not create a second record.
    """

    stage = "write"

    def __init__(self, *, tenants: TenantDirectory, gate: WriteGate | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tenants = tenants
        self.gate = gate  # None: every command is written (no pausing without the tenant registry)

    async def apply(self, command: Command) -> Outcome:
        return outcome_for(
            command,
            OutcomeStatus.SKIPPED,
            reason=f"{RECORD_ONLY}: the {command.target} writer does not call the API yet",
        )

    async def handle(self, item: Received[Command]) -> None:
        command = item.message
        admission = Admission.WRITE if self.gate is None else await self.gate.admit(command, item.record.key)
        if admission is Admission.DUPLICATE:
            return  # a released command that is already written and reported
        outcome = held_outcome(command) if admission is Admission.PARKED else await self.apply(command)
        metrics.WRITES.labels(outcome.target.value, outcome.operation.value, outcome.status.value).inc()
        # The writer hop of the trace is this message's consumer span: it says how the write went.
        trace.get_current_span().set_attributes(
            {
                "tsync.operation": outcome.operation.value,
                "tsync.outcome": outcome.status.value,
                **({"tsync.error_code": outcome.error_code} if outcome.error_code else {}),
            }
        )
        key = record_key(command.tenant_id, command.entity_type, command.source_entity_id)
        await self.publish(SYNC_OUTCOMES, key, outcome)
        if admission is Admission.WRITE_RELEASED and self.gate is not None:
            await self._pending[-1]  # the outcome is in Kafka before the command counts as written
            await self.gate.written(command)


def held_outcome(command: Command) -> Outcome:
    """A paused tenant's command, parked and not written. Its own outcome id: the outcome of the
    write after ``tsync tenants resume`` (even a skip) is a different outcome and counts too."""
    held = outcome_for(
        command,
        OutcomeStatus.SKIPPED,
        reason=f"{TENANT_PAUSED}: the tenant is paused; the command is parked until it is resumed",
    )
    return held.model_copy(update={"outcome_id": outcome_id(command.command_id, "parked")})


def outcome_for(
    command: Command,
    status: OutcomeStatus,
    *,
    reason: str | None = None,
    target_entity_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    written: EntitySnapshot | None = None,
    target_version: str | int | None = None,
) -> Outcome:
    """The outcome of ``command``.

    ``target_entity_id`` defaults to the linked record on the other side, or for a write-back to
    the record's own side (ASSIGN_NUMBER) to that record. ``written`` is what both sides hold
    after an applied create/update; it defaults to the command's payload, and a writer that
    kept some of the target's own values (an internal project, an inactive customer) passes the
    canonical snapshot of what the target really holds, so the next echo is recognised as one.
    """
    if target_entity_id is None:
        own_side = command.operation is Operation.ASSIGN_NUMBER
        target_entity_id = command.source_entity_id if own_side else command.expected_link.target_entity_id
    applied_write = status is OutcomeStatus.APPLIED and command.operation in _WRITES
    return Outcome(
        tenant_id=command.tenant_id,
        correlation_id=command.correlation_id,
        causation_id=command.command_id,
        outcome_id=outcome_id(command.command_id, status.value),
        command_id=command.command_id,
        source=command.source,
        target=command.target,
        operation=command.operation,
        entity_type=command.entity_type,
        source_entity_id=command.source_entity_id,
        target_entity_id=target_entity_id,
        status=status,
        rule_id=command.rule_id,
        written=(written or command.payload) if applied_write else None,
        target_version=_known_version(target_version),
        reason=reason,
        error_code=error_code,
        error_message=error_message,
    )


_VERSION: TypeAdapter[str] = TypeAdapter(Version)


def _known_version(version: str | int | None) -> str | None:
    """The target's version as the outcome can carry it; one the contract refuses (a side answering
    a version beyond ``bigint``) is left out rather than costing the outcome of a write that happened."""
    if version is None:
        return None
    try:
        return _VERSION.validate_python(str(version))
    except ValidationError:
        return None
