"""What every writer shares: consume commands for one side, apply each, publish its outcome.

Each side's writer (``services/tripletex/writer.py``, ``services/svenn/writer.py``) overrides
``apply``. The base only *records* a command and reports it ``skipped`` with reason
``RECORD_ONLY`` — the truth about what happened — for a side that has no writer yet.
"""

from __future__ import annotations

from typing import Any

from contracts.entities import EntitySnapshot
from contracts.envelope import Command, Operation, Outcome, OutcomeStatus
from contracts.ids import outcome_id
from contracts.topics import SYNC_OUTCOMES, record_key
from services.core import metrics
from services.core.batch_consumer import BatchConsumer, Received
from services.core.tenants import TenantDirectory

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

    def __init__(self, *, tenants: TenantDirectory, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tenants = tenants

    async def apply(self, command: Command) -> Outcome:
        return outcome_for(
            command,
            OutcomeStatus.SKIPPED,
            reason=f"{RECORD_ONLY}: the {command.target} writer does not call the API yet",
        )

    async def handle(self, item: Received[Command]) -> None:
        command = item.message
        outcome = await self.apply(command)
        metrics.WRITES.labels(outcome.target.value, outcome.operation.value, outcome.status.value).inc()
        key = record_key(command.tenant_id, command.entity_type, command.source_entity_id)
        await self.publish(SYNC_OUTCOMES, key, outcome)


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
        target_version=str(target_version) if target_version is not None else None,
        reason=reason,
        error_code=error_code,
        error_message=error_message,
    )
