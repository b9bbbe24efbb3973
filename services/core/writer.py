"""What every writer shares: consume commands for one side, apply each, publish its outcome.

Each side's writer (``services/tripletex/writer.py``, ``services/svenn/writer.py``) overrides
``apply`` (and ``probe``). The base only *records* a command and reports it ``skipped`` with
reason ``RECORD_ONLY`` — the truth about what happened — for a side that has no writer yet.

**Lanes.** A batch's commands run concurrently (``WRITER_CONCURRENCY`` at once, at most
``WRITER_TENANT_CONCURRENCY`` of one tenant), started round-robin over the tenants so a tenant
with a big backlog cannot take every slot. What the engine relies on stays in order
(``lane_dependencies``): a record's commands one after another, and so are commands that may find
or create the same record on the other side (a natural key in common; a tenant's Drifti
transfers, which find or create customers and projects on the way); and a command waits for every
earlier command of its tenant in the batch on an entity type it may name (``REFERENCES``: an
employee's create before a project naming it as a member, S-P8; customers and projects before
Drifti invoices, invoices before payments). Outcomes are published (and awaited) before the batch
commits, as before.

**A side that does not answer** (``SideUnreachable``): the tenant's command and every later one
of the tenant for this writer are parked (``services.tenants.outages``) and the batch goes on with
the other tenants; a background probe re-publishes them in order once the side answers again.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aiokafka.structs import ConsumerRecord
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from pydantic import TypeAdapter, ValidationError

from contracts.bounds import Version
from contracts.entities import CustomerSnapshot, EmployeeSnapshot, EntitySnapshot, ProjectSnapshot
from contracts.envelope import Command, EntityType, Operation, Outcome, OutcomeStatus, SourceSystem
from contracts.error_codes import API_UNREACHABLE
from contracts.ids import outcome_id
from contracts.topics import SYNC_OUTCOMES, record_key
from services.core import metrics, written_commands
from services.core.batch_consumer import BatchConsumer, Received
from services.core.errors import TransientError, database_away, is_transient
from services.core.tenants import TenantDirectory
from services.core.write_gate import TENANT_PAUSED, Admission, SideUnreachable, WriteGate

if TYPE_CHECKING:
    from services.tenants.outages import Outages

RECORD_ONLY = "RECORD_ONLY"
_WRITES = (Operation.CREATE, Operation.UPDATE)

# The entity types a command of a type may name: it waits for every earlier command of its tenant
# in the batch on one of them. A project names its customer and its members (employees, S-P8) and
# may carry activities; a Drifti invoice its customer and job (project); a payment its invoice.
REFERENCES: dict[EntityType, frozenset[EntityType]] = {
    EntityType.PROJECT: frozenset({EntityType.EMPLOYEE, EntityType.CUSTOMER, EntityType.ACTIVITY}),
    EntityType.INVOICE: frozenset({EntityType.CUSTOMER, EntityType.PROJECT}),
    EntityType.PAYMENT: frozenset({EntityType.CUSTOMER, EntityType.PROJECT, EntityType.INVOICE}),
}


@dataclass(frozen=True)
class Lane:
    """What orders a command within its batch: its tenant, record key, entity type, the natural keys
    it may find or create a record by on the other side, and whether it is a Drifti transfer."""

    tenant_id: str
    record_key: bytes
    entity_type: EntityType
    natural_keys: tuple[str, ...] = ()
    drifti: bool = False

    @classmethod
    def of(cls, command: Command) -> Lane:
        key = record_key(command.tenant_id, command.entity_type, command.source_entity_id)
        return cls(
            command.tenant_id,
            key,
            command.entity_type,
            natural_keys(command),
            command.source is SourceSystem.DRIFTI,
        )


def natural_keys(command: Command) -> tuple[str, ...]:
    """The numbers and e-mail a create or update finds the other side's record by (S-P4, S-C1, S-E1):
    two records of one tenant that meet in one record there (Svenn customers 55 and 055) go in order,
    so the second finds what the first created (or sees the ambiguity) instead of creating a twin."""
    payload = command.payload
    found: list[str | None] = []
    if isinstance(payload, ProjectSnapshot):
        found.append(payload.number)
    elif isinstance(payload, CustomerSnapshot):
        found.append(payload.customer_number.lstrip("0") or "0" if payload.customer_number else None)
    elif isinstance(payload, EmployeeSnapshot):
        found += [payload.employee_number, payload.email.lower() if payload.email else None]
    return tuple(f"{command.entity_type.value}:{k}" for k in found if k)


def lane_dependencies(lanes: Sequence[Lane]) -> list[tuple[int, ...]]:
    """For each command's ``Lane``, in batch order, the earlier ones of the batch it must follow.

    The previous command of the same record; the previous one of its tenant with a natural key in
    common; every earlier one of its tenant on a type it references (``REFERENCES``); and a Drifti
    transfer the previous Drifti transfer of its tenant (an invoice or a job finds or creates its
    customer and project, which another invoice of the batch may need too: D-C1, D-J1, D-I1).
    Other records, and other tenants, run freely.
    """
    last: dict[object, int] = {}
    of_type: dict[tuple[str, EntityType], list[int]] = {}
    dependencies: list[tuple[int, ...]] = []
    for index, lane in enumerate(lanes):
        chains: list[object] = [lane.record_key, *((lane.tenant_id, k) for k in lane.natural_keys)]
        if lane.drifti:
            chains.append((lane.tenant_id, SourceSystem.DRIFTI))
        before = {last[chain] for chain in chains if chain in last}
        for referenced in REFERENCES.get(lane.entity_type, ()):
            before.update(of_type.get((lane.tenant_id, referenced), ()))
        dependencies.append(tuple(sorted(before)))
        for chain in chains:
            last[chain] = index
        of_type.setdefault((lane.tenant_id, lane.entity_type), []).append(index)
    return dependencies


def round_robin(tenants: Sequence[str]) -> list[int]:
    """Indexes of a batch interleaved over its tenants (A1, B1, A2, B2, …), each tenant's in order."""
    lanes: dict[str, list[int]] = {}
    for index, tenant_id in enumerate(tenants):
        lanes.setdefault(tenant_id, []).append(index)
    return [i for row in itertools.zip_longest(*lanes.values()) for i in row if i is not None]


class CommandWriter(BatchConsumer[Command]):
    """Record-only writer; a side's real writer overrides ``apply`` and ``probe``.

    ``apply`` returns the outcome (applied / skipped / failed with an error code from
    ``contracts.error_codes``) for anything the command itself decides; it raises
    ``SideUnreachable`` when the tenant's side does not answer (the tenant's commands are parked)
    and ``TransientError`` for any other outage (the batch is retried rather than dead-lettered).
    It must be idempotent: the same command may arrive twice (redelivery, a crash between the
    write and the offset commit) and must not create a second record.
    """

    stage = "write"

    def __init__(
        self,
        *,
        tenants: TenantDirectory,
        gate: WriteGate | None = None,
        outages: Outages | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tenants = tenants
        self.gate = gate  # None: every command is written (no pausing without the tenant registry)
        self.outages = outages  # None: an unreachable side holds the batch (no database)
        self._carried_out: frozenset[UUID] = frozenset()
        self._written: list[tuple[UUID, str]] = []

    async def apply(self, command: Command) -> Outcome:
        return outcome_for(
            command,
            OutcomeStatus.SKIPPED,
            reason=f"{RECORD_ONLY}: the {command.target} writer does not call the API yet",
        )

    async def probe(self, tenant_id: str, side: SourceSystem) -> None:
        """Ask the tenant's ``side`` something cheap; raise when it does not answer (the base: it does)."""

    # ------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start the background probe of parked tenants (the runtime calls it once the database is up)."""
        if self.outages is not None:
            await self.outages.start(self.probe)

    async def aclose(self) -> None:
        if self.outages is not None:
            await self.outages.stop()

    # ------------------------------------------------------------------- a batch
    async def handle_batch(self, received: list[Received[Command]]) -> None:
        """The batch's commands in lanes (see the module docstring); an outage fails the batch."""
        if not received:
            return
        await self._load_carried_out(received)
        dependencies = lane_dependencies([Lane.of(i.message) for i in received])
        loop = asyncio.get_running_loop()
        done: list[asyncio.Future[bool]] = [loop.create_future() for _ in received]
        slots = asyncio.Semaphore(self.settings.writer_concurrency)
        tenant_slots: dict[str, asyncio.Semaphore] = {}
        outages: list[BaseException] = []

        async def lane(index: int) -> None:
            handled = False
            try:
                for earlier in dependencies[index]:
                    if not await done[earlier]:
                        return  # what it follows was not handled (an outage): the batch is read again
                item = received[index]
                tenant_id = item.message.tenant_id
                own = tenant_slots.setdefault(
                    tenant_id, asyncio.Semaphore(self.settings.writer_tenant_concurrency)
                )
                async with own, slots:
                    if not outages:
                        handled = await self._handle_one(item, outages)
            finally:
                done[index].set_result(handled)

        tasks = [asyncio.create_task(lane(i)) for i in round_robin([i.message.tenant_id for i in received])]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        if outages:
            raise outages[0]

    async def _handle_one(self, item: Received[Command], outages: list[BaseException]) -> bool:
        """One command in its own span; its fault is dead-lettered, an outage noted for the batch."""
        with self._span(item.record, item.message) as span:
            try:
                await self.handle(item)
            except Exception as exc:
                if is_transient(exc):
                    outages.append(exc)
                    return False
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                await self.dead_letters.send(item.record, self.stage, f"{type(exc).__name__}: {exc}", exc)
        return True

    async def handle(self, item: Received[Command]) -> None:
        command = item.message
        key = _key_of(item)
        admission = Admission.WRITE if self.gate is None else await self.gate.admit(command, key)
        if admission is Admission.DUPLICATE:
            return  # a released command that is already written and reported
        held: Outcome | None = held_outcome(command) if admission is Admission.PARKED else None
        released_by: list[WriteGate | Outages] = []
        if admission is Admission.WRITE_RELEASED and self.gate is not None:
            released_by.append(self.gate)
        if held is None and self.outages is not None:
            waiting = await self.outages.admit(command, key)
            if waiting is Admission.DUPLICATE:
                return
            if waiting is Admission.PARKED:  # its side does not answer: behind the tenant's parked commands
                held, released_by = unreachable_outcome(command, None), []
            elif waiting is Admission.WRITE_RELEASED:
                released_by.append(self.outages)
        if held is None and not released_by and command.command_id in self._carried_out:
            return  # read again (a consumer-group reset, a redelivery): written and reported before
        if held is None:
            try:
                outcome = await self.apply(command)
            except SideUnreachable as exc:
                if self.outages is None:
                    raise
                await self.outages.park_failed(command, key, exc)
                outcome, released_by = unreachable_outcome(command, exc.side), []
        else:
            outcome = held
        metrics.WRITES.labels(outcome.target.value, outcome.operation.value, outcome.status.value).inc()
        # The writer hop of the trace is this message's consumer span: it says how the write went.
        trace.get_current_span().set_attributes(
            {
                "tsync.operation": outcome.operation.value,
                "tsync.outcome": outcome.status.value,
                **({"tsync.error_code": outcome.error_code} if outcome.error_code else {}),
            }
        )
        sent = await self.publisher.send(SYNC_OUTCOMES, key, outcome)
        self._pending.append(sent)  # the batch commits only once Kafka has it
        if held is None and outcome.status in (OutcomeStatus.APPLIED, OutcomeStatus.SKIPPED):
            self._written.append((command.command_id, command.tenant_id))
        if released_by:
            await sent  # this outcome is in Kafka before the command counts as written
            for gate in released_by:
                await gate.written(command)

    async def consume(self, records: Sequence[ConsumerRecord]) -> None:
        """The batch; then the tracking rows of the commands it carried out (their outcomes are in
        Kafka by now), in one statement. Without them, the batch is read again (an outage)."""
        self._written = []
        await super().consume(records)
        if self._written and self.outages is not None:
            try:
                await written_commands.record(self.outages.database.pool, self._written)
            except Exception as exc:
                if database_away(exc):  # the batch is read again; its commands are idempotent
                    raise TransientError(f"written commands unavailable: {exc}") from exc
                raise

    async def _load_carried_out(self, received: Sequence[Received[Command]]) -> None:
        """The batch's commands already carried out (their tracking rows), read once per batch.

        Such a command read again must not run again: a later change may have replaced what it
        writes, and one decided before its record was linked carries no ``Command.base`` to notice
        that with. The database away is an outage (``is_transient``): the batch is read again.
        """
        if self.outages is None:
            self._carried_out = frozenset()
            return
        ids = [item.message.command_id for item in received]
        self._carried_out = await written_commands.among(self.outages.database.pool, ids)


def _key_of(item: Received[Command]) -> bytes:
    command = item.message
    return record_key(command.tenant_id, command.entity_type, command.source_entity_id)


def held_outcome(command: Command) -> Outcome:
    """A paused tenant's command, parked and not written. Its own outcome id: the outcome of the
    write after ``tsync tenants resume`` (even a skip) is a different outcome and counts too."""
    held = outcome_for(
        command,
        OutcomeStatus.SKIPPED,
        reason=f"{TENANT_PAUSED}: the tenant is paused; the command is parked until it is resumed",
    )
    return held.model_copy(update={"outcome_id": outcome_id(command.command_id, "parked")})


def unreachable_outcome(command: Command, side: SourceSystem | None) -> Outcome:
    """A command parked because its tenant's side does not answer: skipped now, written once it
    answers (that write's outcome is another one). One error-log entry per tenant and side says so
    (``services.tenants.outages``), not one per record."""
    what = f"{side.value} did not answer" if side is not None else "the tenant's side does not answer"
    held = outcome_for(
        command,
        OutcomeStatus.SKIPPED,
        reason=f"{API_UNREACHABLE}: {what}; the command is parked until it answers again",
    )
    return held.model_copy(update={"outcome_id": outcome_id(command.command_id, "unreachable")})


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
