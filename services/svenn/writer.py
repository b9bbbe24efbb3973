"""The Svenn writer: applies the rules' commands to a tenant's Svenn account.

What makes it safe to run against a live system that also has users:

- **Never a second record.** A create first looks for the record by its natural key
  (project display id among top-level projects, customer number, employee number then
  e-mail) and links to it (S-P4, S-C1); only when nothing matches does it create, with the
  command id as ``Idempotency-Key``, so a redelivered command — or a crash between the write
  and the offset commit — replays the first answer instead of creating a twin.
- **No write without a difference.** Every update is computed against the record as it is
  now; an empty difference writes nothing (Svenn sends no webhook), which is what stops a
  change from bouncing between Svenn and Tripletex forever.
- **No lost concurrent edit.** Patches carry ``If-Match``; on a stale version the client
  re-reads and recomputes (bounded). Running out of attempts is a ``WRITE_CONFLICT``.
- **Failures land where they belong.** What the command itself causes (a rejected value, a
  missing record) becomes a ``failed`` outcome with a stable error code for the error log
  (S-X1); what Svenn's state causes (5xx, timeouts, 429) raises ``SideUnreachable``: the
  tenant's commands are parked until Svenn answers again, never dead-lettered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, ProjectSnapshot
from contracts.envelope import Command, EntityType, Operation, Outcome, OutcomeStatus, SourceSystem
from contracts.error_codes import MATCH_AMBIGUOUS, TENANT_NOT_CONNECTED, WRITE_CONFLICT, WRITE_REJECTED
from services.core import metrics
from services.core.tenants import SvennAccess, UnknownTenant
from services.core.write_gate import SideUnreachable
from services.core.writer import CommandWriter, outcome_for
from services.svenn.client import (
    Project,
    SvennAuthError,
    SvennClient,
    SvennConflictError,
    SvennError,
    SvennNotFoundError,
    SvennRateLimitedError,
    SvennServerError,
    SvennTransportError,
    SvennValidationError,
    SvennVersionConflictError,
)
from services.svenn.mapping import (
    SvennRecord,
    customer_create,
    customer_fields,
    employee_create,
    employee_fields,
    patch_for,
    project_create,
    project_fields,
    svenn_field_names,
)

log = logging.getLogger(__name__)


class CommandFailed(Exception):
    """The command cannot be applied as it stands: becomes a ``failed`` outcome, not a retry."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


class SvennWriter(CommandWriter):
    """Consumes ``svenn.commands.v1`` and writes to Svenn; one API client per tenant, reused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clients: dict[str, tuple[SvennAccess, SvennClient]] = {}

    # ------------------------------------------------------------------- lifecycle
    async def aclose(self) -> None:
        """Stop the probe, close the tenants' HTTP clients (the runtime calls it when the consumer stops)."""
        await super().aclose()
        clients, self._clients = self._clients, {}
        for _, client in clients.values():
            await client.aclose()

    def make_client(self, access: SvennAccess) -> SvennClient:
        """One tenant's client; a subclass (or a test) may tune timeouts and retries here."""
        return SvennClient(access.base_url, access.api_key)

    async def _client(self, access: SvennAccess, tenant_id: str) -> SvennClient:
        cached = self._clients.get(tenant_id)
        if cached is not None and cached[0] == access:
            return cached[1]
        client = self.make_client(access)
        # Stored before the old one is closed: lanes of the same tenant share it (no await in between).
        self._clients[tenant_id] = (access, client)
        if cached is not None:  # the tenant's connection changed (new key, new URL)
            await cached[1].aclose()
        return client

    async def probe(self, tenant_id: str, side: SourceSystem) -> None:
        """Whether the tenant's Svenn answers again: a one-record listing."""
        tenant = await self.tenants.get(tenant_id)
        if tenant.svenn is not None:
            await (await self._client(tenant.svenn, tenant_id)).projects.page(limit=1)

    # ------------------------------------------------------------------- applying
    async def apply(self, command: Command) -> Outcome:
        try:
            tenant = await self.tenants.get(command.tenant_id)
        except UnknownTenant:
            return _failed(command, TENANT_NOT_CONNECTED, f"tenant {command.tenant_id!r} is not registered")
        if tenant.svenn is None:
            return _failed(command, TENANT_NOT_CONNECTED, "the tenant has no Svenn connection configured")
        client = await self._client(tenant.svenn, command.tenant_id)
        try:
            return await self._applied_or_failed(client, command)
        finally:
            if client.rate_limit_remaining is not None:
                metrics.RATE_LIMIT_REMAINING.labels(SourceSystem.SVENN.value).set(client.rate_limit_remaining)

    async def _applied_or_failed(self, client: SvennClient, command: Command) -> Outcome:
        """Svenn's answers sorted into outcomes (the command's fault) and retries (Svenn's state)."""
        try:
            return await self._apply(client, command)
        except CommandFailed as exc:
            return _failed(command, exc.error_code, exc.message)
        except SvennVersionConflictError as exc:
            return _failed(
                command,
                WRITE_CONFLICT,
                f"the Svenn record kept changing while it was written; gave up ({exc})",
            )
        except SvennValidationError as exc:
            return _failed(command, WRITE_REJECTED, f"Svenn rejected the values: {_fields(exc)}")
        except SvennNotFoundError as exc:
            return _failed(command, WRITE_REJECTED, f"the record does not exist in Svenn ({exc})")
        except SvennConflictError as exc:
            return _failed(command, WRITE_REJECTED, f"Svenn refused the write: {exc}")
        except SvennAuthError as exc:
            # Retrying cannot fix a revoked key, and must not hold up other tenants' commands.
            return _failed(
                command, WRITE_REJECTED, f"Svenn refused the tenant's API key; reconnect Svenn ({exc})"
            )
        except (SvennServerError, SvennTransportError, SvennRateLimitedError) as exc:
            raise SideUnreachable(
                SourceSystem.SVENN,
                command.tenant_id,
                f"Svenn is unavailable for tenant {command.tenant_id}: {exc}",
            ) from exc
        except SvennError as exc:
            return _failed(command, WRITE_REJECTED, f"Svenn answered unexpectedly: {exc}")

    async def _apply(self, client: SvennClient, command: Command) -> Outcome:
        operation = command.operation
        if operation is Operation.CREATE:
            return await self._create(client, command)
        if operation is Operation.UPDATE:
            return await self._update(client, command)
        if operation is Operation.COMPLETE:
            return await self._complete(client, command)
        if operation is Operation.DELETE:
            return await self._delete(client, command)
        return outcome_for(
            command,
            OutcomeStatus.SKIPPED,
            reason=f"{operation.value} is not something Svenn does (Svenn assigns no numbers)",
        )

    # CREATE: find by natural key and link, else create with the command id as idempotency key.
    async def _create(self, client: SvennClient, command: Command) -> Outcome:
        payload = _payload(command)
        api = _api(client, command.entity_type)
        found, how = await _find(client, payload)
        if found is None:
            try:
                created = await api.create(
                    _create_body(command, payload), idempotency_key=str(command.command_id)
                )
            except SvennConflictError as exc:
                # Someone created the same number between our lookup and our create: link to it.
                if isinstance(exc, SvennVersionConflictError) or exc.conflicting_id is None:
                    raise
                found = await api.get(exc.conflicting_id)
                how = f"its number (created concurrently, {exc.code})"
            else:
                return outcome_for(
                    command,
                    OutcomeStatus.APPLIED,
                    target_entity_id=created.id,
                    target_version=created.version,
                    reason=f"created Svenn {command.entity_type.value} {created.id}",
                )
        desired = _desired(command, payload)
        if isinstance(found, Project) and "member_ids" in desired:
            # Linking adopts a record Svenn users already work in: add the participants as
            # members, never take away members they gave access (later updates do replace).
            desired["member_ids"] = list(dict.fromkeys([*found.member_ids, *desired["member_ids"]]))
        record, written = await _bring_up_to_date(api, found, desired)
        return outcome_for(
            command,
            OutcomeStatus.APPLIED,
            target_entity_id=record.id,
            target_version=record.version,
            reason=f"matched the existing Svenn {command.entity_type.value} {record.id} by {how} "
            f"and linked it (not duplicated); {_what(written)}",
        )

    # UPDATE: the linked record (or the one its number finds), patched only where it differs.
    async def _update(self, client: SvennClient, command: Command) -> Outcome:
        payload = _payload(command)
        api = _api(client, command.entity_type)
        target = command.expected_link.target_entity_id
        current: SvennRecord
        if target is not None:
            current = await _get(api, target)
        else:
            found, _ = await _find(client, payload)
            if found is None:
                # An update by natural key follows its record's create, which did not happen (it
                # was ambiguous or refused): so this change is the create, with all its checks.
                return await self._create(client, command)
            current = found
        _refuse_deleted(current)
        desired = _desired(command, payload)
        if (
            command.changed_fields is not None
        ):  # only what changed on the other side; the rest may be newer here
            only = svenn_field_names(command.entity_type, command.changed_fields)
            desired = {name: value for name, value in desired.items() if name in only}
        record, written = await _bring_up_to_date(api, current, desired)
        reason = _what(written)
        return outcome_for(
            command,
            OutcomeStatus.APPLIED,
            target_entity_id=record.id,
            target_version=record.version,
            reason=reason,
        )

    # COMPLETE (S-P7): the project's status, nothing else.
    async def _complete(self, client: SvennClient, command: Command) -> Outcome:
        if command.entity_type is not EntityType.PROJECT:
            raise CommandFailed(
                WRITE_REJECTED, f"only projects can be completed, not a {command.entity_type}"
            )
        project = await self._linked_project(client, command)
        if project.status == "deleted":
            return outcome_for(
                command,
                OutcomeStatus.SKIPPED,
                target_entity_id=project.id,
                reason="the Svenn project is deleted; nothing to complete",
            )
        record, written = await _bring_up_to_date(client.projects, project, {"status": "completed"})
        return outcome_for(command, OutcomeStatus.APPLIED, target_entity_id=record.id, reason=_what(written))

    async def _linked_project(self, client: SvennClient, command: Command) -> Project:
        target = command.expected_link.target_entity_id
        if target is not None:
            project = await _get(client.projects, target)
            assert isinstance(project, Project)
            return project
        if isinstance(command.payload, ProjectSnapshot) and command.payload.number is not None:
            found = await client.projects.find_top_level_by_display_id(command.payload.number)
            if found is not None:
                return found
        raise CommandFailed(WRITE_REJECTED, "no linked Svenn project to complete")

    # DELETE (S-C5): a soft delete of the customer; repeating it is harmless.
    async def _delete(self, client: SvennClient, command: Command) -> Outcome:
        target = command.expected_link.target_entity_id
        if target is None:
            raise CommandFailed(WRITE_REJECTED, f"no linked Svenn {command.entity_type.value} to delete")
        if command.entity_type is EntityType.CUSTOMER:
            deleted: SvennRecord = await client.customers.delete(target)
        elif command.entity_type is EntityType.PROJECT:
            deleted = await client.projects.delete(target)
        else:
            raise CommandFailed(WRITE_REJECTED, "Svenn employees cannot be deleted")
        return outcome_for(
            command,
            OutcomeStatus.APPLIED,
            target_entity_id=deleted.id,
            reason=f"soft-deleted in Svenn (status {deleted.status})",
        )


# --------------------------------------------------------------------------- helpers
def _failed(command: Command, error_code: str, message: str) -> Outcome:
    log.warning(
        "svenn write failed",
        extra={
            # Not the message: the side's answer may quote the record. It is in the outcome and error log.
            "tenant_id": command.tenant_id,
            "command_id": str(command.command_id),
            "error_code": error_code,
        },
    )
    return outcome_for(command, OutcomeStatus.FAILED, error_code=error_code, error_message=message)


def _fields(exc: SvennValidationError) -> str:
    if not exc.details:
        return exc.message
    return "; ".join(f"{d.field}: {d.message}" for d in exc.details)


def _payload(command: Command) -> ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot:
    expected = {
        EntityType.PROJECT: ProjectSnapshot,
        EntityType.CUSTOMER: CustomerSnapshot,
        EntityType.EMPLOYEE: EmployeeSnapshot,
    }.get(command.entity_type)
    payload = command.payload
    if (
        expected is None
        or not isinstance(payload, ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot)
        or not isinstance(payload, expected)
    ):
        raise CommandFailed(
            WRITE_REJECTED, f"the {command.operation.value} command carries no {command.entity_type} payload"
        )
    return payload


def _api(client: SvennClient, entity_type: EntityType) -> Any:
    # ``Any``: the three resource APIs share the methods used here but not one generic type.
    return {
        EntityType.PROJECT: client.projects,
        EntityType.CUSTOMER: client.customers,
        EntityType.EMPLOYEE: client.employees,
    }[entity_type]


def _references_are_svenn_ids(command: Command) -> bool:
    """Only a snapshot from Svenn itself carries Svenn ids in ``customer_id``/``parent_id``."""
    return command.source is SourceSystem.SVENN


def _desired(
    command: Command, payload: ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot
) -> dict[str, Any]:
    if isinstance(payload, ProjectSnapshot):
        return project_fields(payload, with_references=_references_are_svenn_ids(command))
    if isinstance(payload, CustomerSnapshot):
        return customer_fields(payload)
    # Tripletex has no inactive employees, so its "active" says nothing: a link or a later change
    # never reactivates an employee Svenn made inactive (S-E3). A new one is created active.
    fields = employee_fields(payload)
    fields.pop("status", None)
    return fields


def _create_body(command: Command, payload: ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot) -> Any:
    if isinstance(payload, ProjectSnapshot):
        return project_create(payload, with_references=_references_are_svenn_ids(command))
    if isinstance(payload, CustomerSnapshot):
        return customer_create(payload)
    return employee_create(payload)


async def _find(
    client: SvennClient, payload: ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot
) -> tuple[SvennRecord | None, str]:
    """The live record with the payload's natural key, and how it was found.

    The best key that finds anything decides (number before e-mail, as the dry run pairs
    records); when it finds more than one record, none is linked (``MATCH_AMBIGUOUS``).
    """
    if isinstance(payload, ProjectSnapshot):
        if payload.number is None:
            return None, ""
        # Top-level only: sub-projects reuse their parent's display id (S-P2).
        found = [p for p in await client.projects.find_by_display_id(payload.number) if p.parent_id is None]
        return _one(found, f"display_id {payload.number!r}")
    if isinstance(payload, CustomerSnapshot):
        if payload.customer_number is None:
            return None, ""
        customers = await client.customers.list_all(customer_number=payload.customer_number)
        return _one(customers, f"customer_number {payload.customer_number!r}")
    if payload.employee_number is not None:
        employees = await client.employees.list_all(employee_number=payload.employee_number)
        if employees:
            return _one(employees, f"employee_number {payload.employee_number!r}")
    if payload.email:
        return _one(await client.employees.list_all(email=payload.email), f"e-mail {payload.email!r}")
    return None, ""


def _one(found: Sequence[SvennRecord], key: str) -> tuple[SvennRecord | None, str]:
    if len(found) > 1:
        raise CommandFailed(
            MATCH_AMBIGUOUS,
            f"{len(found)} Svenn records match {key} ({', '.join(sorted(r.id for r in found))}); "
            "not linked to any of them: a person decides which one is this record",
        )
    return (found[0] if found else None), key


async def _get(api: Any, record_id: str) -> SvennRecord:
    try:
        record: SvennRecord = await api.get(record_id)
    except SvennNotFoundError:
        raise CommandFailed(
            WRITE_REJECTED, f"the linked Svenn record {record_id} does not exist (removed in Svenn?)"
        ) from None
    return record


def _refuse_deleted(record: SvennRecord) -> None:
    if record.status == "deleted":
        raise CommandFailed(
            WRITE_REJECTED, f"the Svenn record {record.id} is deleted; deleted records are read-only"
        )


async def _bring_up_to_date(
    api: Any, current: SvennRecord, desired: dict[str, Any]
) -> tuple[SvennRecord, dict[str, Any]]:
    """Patch ``current`` to ``desired`` under ``If-Match``; returns the record and what was sent.

    The patch is recomputed from the fresh record after a version conflict, so the fields
    someone else just changed to the same value are not written again, and an empty patch
    (already up to date) writes nothing.
    """
    sent: dict[str, Any] = {}

    def mutation(record: SvennRecord) -> dict[str, Any] | None:
        nonlocal sent
        sent = patch_for(record, desired)
        return sent or None

    record: SvennRecord = await api.update(current, mutation)
    return record, sent


def _what(written: dict[str, Any]) -> str:
    if not written:
        return "already up to date (nothing written)"
    return "updated " + ", ".join(sorted(written))


__all__ = ["CommandFailed", "SvennWriter"]
