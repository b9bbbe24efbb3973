"""What the Tripletex writer does with each command, given a tenant's clients.

Kept apart from the consumer (``writer.py``) so it can be tested against the simulator
in-process, without Kafka, and so importing it registers nothing.

How each operation stays safe when a command arrives twice (redelivery, a crash between the
HTTP write and the offset commit, a batch retried after a transient error):

- **CREATE** looks the record up by its natural key first (project number, closed and
  internal ones too; customer number, inactive ones too; employee number, then e-mail) and
  links what it finds; only when nothing matches does it create. A create whose answer was
  lost (timeout, 5xx) is resolved by looking again, never by sending again (the client's
  ``ensure``). So the second delivery finds what the first one created.
- **UPDATE / COMPLETE / ASSIGN_NUMBER** compute the change against the record as it is now
  and send only what differs, with ``version`` (optimistic locking, re-read and re-applied on
  409/8000, bounded). A change already in place writes nothing: "already up to date". That
  is also what stops a change from bouncing between Svenn and Tripletex forever.

Fields the rules protect are never written: ``isInternal`` (S-P4), ``isInactive=true``
(S-C3: deactivation is Tripletex's decision), ``isClosed=false`` (no rule reopens a project).
Bodies come from :mod:`services.tripletex.mapping`; the choices a *matched* record needs on top
of that (keep its invoice method, its inactive state and its employee number) are made here.

Errors are sorted by whose fault they are: what the command causes (a rejected value, a
record that is gone, a conflict that does not settle) becomes a ``failed`` outcome with a
stable error code, which becomes an error-log entry (S-X1); what Tripletex's state causes
(429, 5xx, timeouts that outlasted the client's retries) raises ``SideUnreachable`` (a
``TransientError``): the writer parks the tenant's commands until the side answers again
(``services.tenants.outages``) instead of dead-lettering them or holding other tenants up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, EntitySnapshot, ProjectSnapshot
from contracts.envelope import Command, EntityType, Operation, Outcome, OutcomeStatus, SourceSystem
from contracts.error_codes import MATCH_AMBIGUOUS, WRITE_CONFLICT, WRITE_REJECTED
from services.core.write_gate import SideUnreachable
from services.core.writer import outcome_for
from services.drifti.client import DriftiClient
from services.svenn.client import Employee as SvennEmployee
from services.svenn.client import (
    SvennClient,
    SvennConflictError,
    SvennError,
    SvennNotFoundError,
    SvennRateLimitedError,
    SvennServerError,
    SvennTransportError,
    SvennVersionConflictError,
)
from services.tripletex.client import (
    TripletexAuthError,
    TripletexClient,
    TripletexConflictError,
    TripletexError,
    TripletexNotFound,
    TripletexOutcomeUnknown,
    TripletexRateLimited,
    TripletexServerError,
    TripletexUnavailable,
    TripletexValidationError,
    Updated,
)
from services.tripletex.client.models import Address, Customer, Employee, Project
from services.tripletex.client.natural_keys import Ensured
from services.tripletex.mapping import (
    MappingError,
    apply_body,
    as_json,
    customer_create_body,
    customer_update_body,
    employee_create_body,
    employee_update_body,
    project_create_body,
    project_update_body,
    snapshot_of,
)
from services.tripletex.writer_numbers import NoFreeNumber, free_number
from services.tripletex.writer_vouchers import apply_drifti_command

log = logging.getLogger(__name__)

# A customer read that expands the postal address, so an unchanged address compares equal
# (a plain read may return it as ``{id, url}`` only, which would look like a change every time).
CUSTOMER_READ_FIELDS = (
    "id,version,name,customerNumber,organizationNumber,email,invoiceEmail,phoneNumber,"
    "phoneNumberMobile,isInactive,invoiceSendMethod,"
    "postalAddress(id,version,addressLine1,addressLine2,postalCode,city)"
)
# Attempts at S-P5/S-E2 numbering when someone takes the generated number before we write it.
NUMBERING_ATTEMPTS = 3


class CommandFailed(Exception):
    """The command cannot be applied as it stands: a ``failed`` outcome, not a retry."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@dataclass
class TenantTarget:
    """One tenant's connections as the writer holds them, with what it caches per tenant.

    ``svenn`` is only read (to keep generated numbers unique in Svenn too); ``numbering``
    serialises S-P5/S-E2 number generation within this process, so two commands for the
    same tenant cannot pick the same number between listing and writing.
    """

    tenant_id: str
    tripletex: TripletexClient
    svenn: SvennClient | None = None
    drifti: DriftiClient | None = None  # Drifti commands: read invoice PDFs (D-I1)
    numbering: asyncio.Lock = field(default_factory=asyncio.Lock)
    _api_user: tuple[int, int | None] | None = None

    async def api_user(self) -> tuple[int, int | None]:
        """(employee id, department id) of the token's own user, asked once per tenant.

        New projects need a project manager (required by Tripletex; Svenn has none to give),
        and new employees a department when the company uses departments: the integration's
        own user and its department are the choice that works in every company.
        """
        if self._api_user is None:
            me = await self.tripletex.who_am_i()
            if me.employee_id is None:
                raise CommandFailed(WRITE_REJECTED, "Tripletex did not say which employee the API user is")
            employee = await self.tripletex.employees.get(me.employee_id, fields="id,department(id)")
            self._api_user = (me.employee_id, employee.department.id if employee.department else None)
        return self._api_user

    async def aclose(self) -> None:
        await self.tripletex.aclose()
        if self.svenn is not None:
            await self.svenn.aclose()
        if self.drifti is not None:
            await self.drifti.aclose()


# --------------------------------------------------------------------------- entry point
def unreachable(side: SourceSystem, command: Command, exc: Exception) -> SideUnreachable:
    """The tenant's ``side`` did not answer (after the client's retries): park, do not fail."""
    return SideUnreachable(
        side, command.tenant_id, f"{side.value} is unavailable for tenant {command.tenant_id}: {exc}"
    )


async def apply_command(command: Command, target: TenantTarget) -> Outcome:
    """Apply one command to the tenant's Tripletex; an outcome, or ``TransientError`` to retry."""
    try:
        return await _dispatch(command, target)
    except CommandFailed as exc:
        return failed(command, exc.error_code, exc.message)
    except (MappingError, NoFreeNumber) as exc:
        return failed(command, WRITE_REJECTED, str(exc))
    except TripletexValidationError as exc:
        return failed(command, WRITE_REJECTED, f"Tripletex rejected the values: {validation_details(exc)}")
    except TripletexConflictError as exc:
        if exc.is_revision:
            return failed(
                command,
                WRITE_CONFLICT,
                f"the Tripletex record kept changing while it was written; gave up ({exc})",
            )
        return failed(command, WRITE_REJECTED, f"Tripletex refused the write ({exc.kind.name}): {exc}")
    except TripletexNotFound as exc:
        return failed(command, WRITE_REJECTED, f"the record does not exist in Tripletex ({exc})")
    except TripletexAuthError as exc:
        # Retrying cannot fix revoked tokens or a missing entitlement, and must not hold up
        # other tenants' commands behind this one: an error-log entry the tenant can act on.
        return failed(
            command,
            WRITE_REJECTED,
            "Tripletex refused the tenant's tokens or the API user lacks access; "
            f"reconnect Tripletex ({exc})",
        )
    except (TripletexRateLimited, TripletexServerError, TripletexUnavailable, TripletexOutcomeUnknown) as exc:
        raise unreachable(SourceSystem.TRIPLETEX, command, exc) from exc
    except TripletexError as exc:
        if exc.status is None:  # no answer at all (e.g. the session could not be created)
            raise unreachable(SourceSystem.TRIPLETEX, command, exc) from exc
        return failed(command, WRITE_REJECTED, f"Tripletex answered unexpectedly: {exc}")
    except (SvennServerError, SvennTransportError, SvennRateLimitedError) as exc:
        raise unreachable(SourceSystem.SVENN, command, exc) from exc
    except SvennError as exc:
        return failed(command, WRITE_REJECTED, f"could not check the number in Svenn: {exc}")


async def _dispatch(command: Command, target: TenantTarget) -> Outcome:
    if command.target is not SourceSystem.TRIPLETEX:
        raise CommandFailed(WRITE_REJECTED, f"a {command.target.value} command reached the Tripletex writer")
    if command.source is SourceSystem.DRIFTI:  # one way, Part 2 (writer_vouchers.py)
        manager_id, _ = await target.api_user()
        return await apply_drifti_command(command, target.tripletex, target.drifti, manager_id)
    operation = command.operation
    if operation is Operation.CREATE:
        return await _create(command, target.tripletex, target)
    if operation is Operation.UPDATE:
        return await _update(command, target.tripletex, target)
    if operation is Operation.COMPLETE:
        return await _complete(command, target.tripletex)
    if operation is Operation.ASSIGN_NUMBER:
        return await _assign_number(command, target)
    return outcome_for(
        command,
        OutcomeStatus.SKIPPED,
        reason=f"{operation.value}: the engine never deletes Tripletex records (S-P7, S-C5)",
    )


# --------------------------------------------------------------------------- CREATE
async def _create(command: Command, tx: TripletexClient, target: TenantTarget) -> Outcome:
    payload = _payload(command)
    if isinstance(payload, ProjectSnapshot):
        return await _create_project(command, tx, target, payload)
    if isinstance(payload, CustomerSnapshot):
        return await _create_customer(command, tx, target, payload)
    return await _create_employee(command, tx, target, payload)


async def _create_project(
    command: Command, tx: TripletexClient, target: TenantTarget, payload: ProjectSnapshot
) -> Outcome:
    number = payload.number
    if not number:
        raise CommandFailed(
            WRITE_REJECTED,
            "the project has no number to match on; creating it without one could duplicate it on a retry",
        )
    numbered = await _projects_numbered(tx, number)
    _refuse_ambiguous(command, "project", f"number {number!r}", {f"Tripletex {p.id}" for p in numbered})
    customer_id: int | None = None
    if numbered:  # the one match: linked below, as ensure() would have found it
        ensured = Ensured(numbered[0], created=False)
    else:
        manager_id, _ = await target.api_user()
        customer_id = await _tripletex_customer_of(command, target, payload)
        body = project_create_body(payload, project_manager_id=manager_id, customer_id=customer_id)
        ensured = await tx.projects.ensure(Project.model_validate(body))
    project = ensured.record
    project_id = _id(project.id)
    if ensured.created:
        customer_note = f", customer {customer_id}" if customer_id is not None else ""
        members = await _write_participants(command, tx, project_id)
        return _applied(
            command,
            project_id,
            f"created Tripletex project {project_id} (number {number!r}{customer_note}){members}",
        )
    # Tripletex wins at link time: the record existed on both sides before they were linked, so
    # Tripletex keeps its values and they flow to Svenn; changes after the link sync both ways.
    kept = []
    if project.is_internal:
        kept.append("it is internal and stays internal (S-P4)")
    if project.is_closed:
        kept.append("it is closed and stays closed")
    # Linking adopts a project Tripletex users work in: Svenn's members join, nobody is removed.
    members = await _write_participants(
        command.model_copy(update={"former_participants": ()}), tx, project_id
    )
    return _applied(
        command,
        project_id,
        f"matched the existing Tripletex project {project_id} by number {number!r} and linked it "
        f"(not duplicated){_notes(kept)}; {KEPT_AT_LINK}{members}",
    )


async def _write_participants(command: Command, tx: TripletexClient, project_id: int) -> str:
    """S-P8 from Svenn: make the members' linked employees participants, remove removed ones.

    The decision names both sets (``Command.participants``/``former_participants``); a
    participant Svenn does not know (an employee not in Svenn) is never touched. Adding skips
    who is there already and removing only finds who is still there, so a repeat writes nothing.
    """
    if command.participants is None:
        return ""
    wanted = [int(e) for e in command.participants if e.isascii() and e.isdigit()]
    former = {int(e) for e in command.former_participants if e.isascii() and e.isdigit()} - set(wanted)
    current = await tx.projects.participants(project_id)
    present = {p.employee.id for p in current if p.employee is not None}
    added = [e for e in wanted if e not in present]
    if added:
        await tx.projects.add_participants(project_id, added)
    removed = [p for p in current if p.employee is not None and p.employee.id in former and p.id is not None]
    if removed:
        await tx.projects.remove_participants([p.id for p in removed if p.id is not None])
    notes = [f"added participants {added}"] if added else []
    notes += [f"removed participants {[p.employee.id for p in removed if p.employee]}"] if removed else []
    return _notes(notes)


async def _tripletex_customer_of(
    command: Command, target: TenantTarget, payload: ProjectSnapshot
) -> int | None:
    """The Tripletex customer of a project coming from Svenn, found through its customer number.

    The payload's ``customer_id`` is a *Svenn* id; customers are the same on both sides by
    number (S-C1), so the Svenn customer's number finds the Tripletex one. Best effort, on
    create only: without Svenn access, or when the customer is not (yet) in Tripletex, the
    project is created without a customer rather than not at all. A linked project's customer
    is left as Tripletex users set it.
    """
    if command.source is not SourceSystem.SVENN or payload.customer_id is None or target.svenn is None:
        return None
    try:
        svenn_customer = await target.svenn.customers.get(payload.customer_id)
    except SvennNotFoundError:
        return None
    number = svenn_customer.customer_number
    if not (number.isascii() and number.isdigit()):
        return None
    found = await target.tripletex.customers.by_number(int(number))
    return found.id if found is not None else None


async def _create_customer(
    command: Command, tx: TripletexClient, target: TenantTarget, payload: CustomerSnapshot
) -> Outcome:
    if not payload.customer_number:
        raise CommandFailed(WRITE_REJECTED, "the customer has no customer number to match on (S-C1)")
    await _refuse_ambiguous_customer(command, target, payload.customer_number)
    ensured = await tx.customers.ensure(Customer.model_validate(customer_create_body(payload)))
    customer = ensured.record
    customer_id = _id(customer.id)
    if ensured.created:
        return _applied(
            command,
            customer_id,
            f"created Tripletex customer {customer_id} (number {payload.customer_number}, "
            f"invoices by {customer.invoice_send_method or 'EMAIL'})",
        )
    # A matched customer keeps what Tripletex decided about it (Tripletex wins at link time),
    # its invoice delivery (S-C4 applies to customers the engine creates) and an inactive state (S-C3).
    kept = ["it is inactive in Tripletex and stays so (S-C3)"] if customer.is_inactive else []
    return _applied(
        command,
        customer_id,
        f"matched the existing Tripletex customer {customer_id} by number {payload.customer_number} "
        f"and linked it (not duplicated){_notes(kept)}; {KEPT_AT_LINK}",
    )


async def _create_employee(
    command: Command, tx: TripletexClient, target: TenantTarget, payload: EmployeeSnapshot
) -> Outcome:
    if not payload.employee_number and not payload.email:
        # Nothing to match on: number it first (S-E2's generator), in Svenn too, then create by
        # that number. Under the numbering lock, so no other number is generated in between.
        async with target.numbering:
            numbered = await _number_in_svenn_first(command, target, payload)
            return await _create_employee(command, tx, target, numbered)
    await _refuse_ambiguous_employee(command, tx, payload)
    _, department_id = await target.api_user()
    body = employee_create_body(payload, department_id=department_id)
    ensured = await tx.employees.ensure(Employee.model_validate(body))
    employee = ensured.record
    employee_id = _id(employee.id)
    if ensured.created:
        return _applied(command, employee_id, f"created Tripletex employee {employee_id}", written=payload)
    how = (
        f"number {payload.employee_number!r}"
        if payload.employee_number and employee.employee_number == payload.employee_number
        else "e-mail"
    )
    return _applied(
        command,
        employee_id,
        f"matched the existing Tripletex employee {employee_id} by {how} and linked it "
        f"(not duplicated); {KEPT_AT_LINK}",
        written=payload,
    )


async def _number_in_svenn_first(
    command: Command, target: TenantTarget, payload: EmployeeSnapshot
) -> EmployeeSnapshot:
    """The payload with an employee number that the Svenn employee now holds too (S-E1, S-E2).

    Tripletex has no idempotency key, so a create needs a natural key to look for first; an
    employee with neither number nor e-mail gets one the way S-E2 numbers Tripletex's
    employees (free in both systems), written to Svenn *before* anything is created. A
    redelivered command reads Svenn, finds the number there and looks for it in Tripletex,
    where the first delivery's employee is: one employee, whatever is delivered twice.
    """
    svenn = target.svenn
    if command.source is not SourceSystem.SVENN or svenn is None:
        raise CommandFailed(
            WRITE_REJECTED,
            "the employee has neither a number nor an e-mail to match on, and the writer cannot "
            "give it a number in Svenn (no Svenn connection); give it an e-mail or a number",
        )

    async def in_svenn(number: str) -> bool:
        return await svenn.employees.find_by_number(number) is not None

    for attempt in range(1, NUMBERING_ATTEMPTS + 1):
        current = await svenn.employees.get(command.source_entity_id)
        if _has_number(current.employee_number):
            return payload.model_copy(update={"employee_number": current.employee_number})
        number = await free_number(await target.tripletex.employees.numbers(), in_svenn)

        def assign(employee: SvennEmployee, number: str = number) -> dict[str, Any] | None:
            return None if _has_number(employee.employee_number) else {"employee_number": number}

        try:
            numbered = await svenn.employees.update(current, assign)
        except SvennConflictError as exc:
            if isinstance(exc, SvennVersionConflictError) or attempt == NUMBERING_ATTEMPTS:
                raise
            continue  # someone took the number in Svenn since we asked: generate again
        return payload.model_copy(update={"employee_number": numbered.employee_number})
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- ambiguous matches
# A create links what its natural key finds. When the key finds more than one record — two on
# the other side, or another record on the same side that means the same customer ("55" and
# "055" in Svenn are both Tripletex's customer 55) — the writer links none of them: merging
# the wrong two is far worse than waiting. The failed outcome is an error-log entry
# (MATCH_AMBIGUOUS) that resolves once a later write of the record is applied. The keys and
# their order are the dry run's (services/onboarding/readiness.py): the best key that finds
# anything decides, so the readiness report names the same records.
def _refuse_ambiguous(command: Command, what: str, key: str, found: set[str]) -> None:
    if len(found) > 1:
        raise CommandFailed(
            MATCH_AMBIGUOUS,
            f"{len(found)} {what}s match {key} ({', '.join(sorted(found))}); "
            "not linked to any of them: a person decides which one is this record",
        )


async def _projects_numbered(tx: TripletexClient, number: str) -> list[Project]:
    """Every Tripletex project with exactly this number, closed ones too (as ``by_number``)."""
    found: dict[int, Project] = {}
    for params in ({}, {"isClosed": True}):
        async for p in tx.projects.iterate(
            fields="id,version,number,isInternal,isClosed", page_size=100, number=number, **params
        ):
            if p.number == number and p.id is not None:
                found[p.id] = p
    return list(found.values())


async def _refuse_ambiguous_customer(command: Command, target: TenantTarget, number: str) -> None:
    if not (number.isascii() and number.isdigit()):
        return  # not matchable at all; the create refuses it (S-C1)
    found: set[str] = set()
    for inactive in (False, True):
        async for c in target.tripletex.customers.iterate(
            fields="id,customerNumber",
            page_size=100,
            customerAccountNumber=str(int(number)),
            isInactive=inactive,
        ):
            if c.customer_number == int(number) and c.id is not None:
                found.add(f"Tripletex {c.id}")
    _refuse_ambiguous(command, "customer", f"customer number {int(number)}", found)
    if command.source is not SourceSystem.SVENN or target.svenn is None:
        return
    # Svenn keeps leading zeros: another live Svenn customer written the other way is the same one.
    twins: set[str] = set()
    canonical = str(int(number))
    if canonical == number:
        return  # no leading zeros: Svenn's own uniqueness leaves no twin to find by this number
    for variant in (number, canonical):
        for customer in await target.svenn.customers.list_all(customer_number=variant):
            if customer.id != command.source_entity_id:
                twins.add(f"Svenn {customer.id} ({customer.customer_number})")
    if twins:
        _refuse_ambiguous(
            command,
            "customer",
            f"customer number {int(number)}",
            twins | {f"Svenn {command.source_entity_id} ({number})"},
        )


async def _refuse_ambiguous_employee(
    command: Command, tx: TripletexClient, payload: EmployeeSnapshot
) -> None:
    if payload.employee_number:
        by_number = {
            f"Tripletex {e.id}"
            async for e in tx.employees.iterate(
                fields="id,employeeNumber", page_size=100, employeeNumber=payload.employee_number
            )
            if e.employee_number == payload.employee_number
        }
        if by_number:
            _refuse_ambiguous(command, "employee", f"number {payload.employee_number!r}", by_number)
            return
    if payload.email:
        wanted = payload.email.strip().lower()
        by_email = {
            f"Tripletex {e.id}"
            async for e in tx.employees.iterate(fields="id,email", page_size=100, email=payload.email.strip())
            if (e.email or "").strip().lower() == wanted
        }
        _refuse_ambiguous(command, "employee", f"e-mail {payload.email!r}", by_email)


# --------------------------------------------------------------------------- UPDATE
async def _update(command: Command, tx: TripletexClient, target: TenantTarget) -> Outcome:
    payload = _payload(command)
    if command.expected_link.target_entity_id is None and await _by_natural_key(tx, payload) is None:
        # An update by natural key follows its record's create, which did not happen (it was
        # ambiguous or refused): so this change is the create, with all of its checks.
        return await _create(command, tx, target)
    record_id = await _linked_id(command, tx, payload)
    updated: Updated[Any]
    kept: set[str] = set()

    def changed(current: Project | Customer | Employee) -> tuple[str, ...] | None:
        """Recomputed on every (re-)read, so a conflict found after a 409 is found too."""
        fields, held = _tripletex_wins(command, current, payload)
        kept.clear()
        kept.update(held)
        return fields

    try:
        if isinstance(payload, ProjectSnapshot):
            body = project_update_body(payload)
            updated = await tx.projects.revise(
                record_id, lambda p: apply_body(p, only_changed(body, changed(p)))
            )
            members = await _write_participants(command, tx, record_id)
        elif isinstance(payload, CustomerSnapshot):
            # Activation flows to Tripletex (S-C5); deactivation never does (S-C3, in the body).
            body = customer_update_body(payload)
            updated = await tx.customers.revise(
                record_id,
                lambda c: _apply_customer(c, only_changed(body, changed(c))),
                fields=CUSTOMER_READ_FIELDS,
            )
            members = ""
        else:
            employee = payload
            updated = await tx.employees.revise(
                record_id, lambda e: _employee_change(employee, changed(e))(e)
            )
            members = ""
    except TripletexNotFound:
        raise CommandFailed(
            WRITE_REJECTED,
            f"the linked Tripletex {command.entity_type.value} {record_id} does not exist "
            "(deleted in Tripletex?); nothing was written",
        ) from None
    conflict = (
        f"; kept Tripletex's {', '.join(sorted(kept))}: changed in Tripletex at the same time "
        "(a conflict on the same field: Tripletex wins)"
        if kept
        else ""
    )
    return _applied(command, record_id, f"{_what(updated)}{members}{conflict}")


def _tripletex_wins(
    command: Command, current: Project | Customer | Employee, payload: EntitySnapshot
) -> tuple[tuple[str, ...] | None, set[str]]:
    """The fields to write, and those left as Tripletex has them (the README's conflict policy).

    A field the other side changed, which Tripletex changed too since the engine's last write
    (``Command.base``) to another value, is a concurrent edit of the same field: Tripletex, the
    accounting system, keeps its value (its own change event carries it to Svenn). Only a
    record whose version moved past the newest one the decision had seen can hold such an edit;
    otherwise what differs from ``base`` is Tripletex's own value kept at link time, not news.
    """
    changed = _changed_fields(command)
    base = command.base
    if changed is None or base is None or type(base) is not type(payload):
        return changed, set()
    if command.base_version is None or current.version is None or current.version <= command.base_version:
        return changed, set()  # Tripletex has not changed since the decision looked: no conflict
    try:
        now = snapshot_of(command.entity_type, as_json(current))
    except (MappingError, ValueError):
        return changed, set()
    held = {
        name
        for name in changed
        if name != "member_ids"
        and getattr(now, name) != getattr(base, name)
        and getattr(now, name) != getattr(payload, name)
    }
    return tuple(name for name in changed if name not in held), held


async def _linked_id(command: Command, tx: TripletexClient, payload: EntitySnapshot) -> int:
    """The linked record's id, or (no link known) the one its natural key finds."""
    linked = command.expected_link.target_entity_id
    if linked is not None:
        return _parse_id(linked)
    found = await _by_natural_key(tx, payload)
    if found is None:
        raise CommandFailed(
            WRITE_REJECTED,
            f"no linked Tripletex {command.entity_type.value} and none with this number to update",
        )
    return _id(found.id)


async def _by_natural_key(
    tx: TripletexClient, payload: EntitySnapshot
) -> Project | Customer | Employee | None:
    if isinstance(payload, ProjectSnapshot) and payload.number:
        return await tx.projects.by_number(payload.number)
    if isinstance(payload, CustomerSnapshot) and payload.customer_number:
        if payload.customer_number.isascii() and payload.customer_number.isdigit():
            return await tx.customers.by_number(int(payload.customer_number))
        return None
    if isinstance(payload, EmployeeSnapshot):
        return await tx.employees.find(employee_number=payload.employee_number, email=payload.email)
    return None


# --------------------------------------------------------------------------- COMPLETE (S-P7)
async def _complete(command: Command, tx: TripletexClient) -> Outcome:
    if command.entity_type is not EntityType.PROJECT:
        raise CommandFailed(WRITE_REJECTED, f"only projects can be closed, not a {command.entity_type.value}")
    project_id = await _linked_id(command, tx, _payload(command))

    def close(project: Project) -> None:
        project.is_closed = True

    try:
        updated = await tx.projects.revise(project_id, close)
    except TripletexNotFound:
        raise CommandFailed(
            WRITE_REJECTED, f"the linked Tripletex project {project_id} does not exist; nothing to close"
        ) from None
    reason = "closed the project (isClosed=true)" if updated.written else "already closed (nothing written)"
    return _applied(command, project_id, reason)


# --------------------------------------------------------------------------- ASSIGN_NUMBER (S-P5, S-E2)
async def _assign_number(command: Command, target: TenantTarget) -> Outcome:
    """Give a Tripletex project or employee without a number a fresh one (writer_numbers.py).

    The record is Tripletex's own (``source_entity_id`` is its Tripletex id): the command's
    ``expected_link`` points at the *Svenn* record, if any, and is not used here.
    """
    if command.source is not SourceSystem.TRIPLETEX:
        raise CommandFailed(WRITE_REJECTED, "numbers are only assigned to records Tripletex holds")
    record_id = _parse_id(command.source_entity_id)
    if command.entity_type is EntityType.PROJECT:
        return await _number_project(command, target, record_id)
    if command.entity_type is EntityType.EMPLOYEE:
        return await _number_employee(command, target, record_id)
    raise CommandFailed(
        WRITE_REJECTED, f"numbers are assigned to projects and employees, not a {command.entity_type}"
    )


async def _number_project(command: Command, target: TenantTarget, project_id: int) -> Outcome:
    tx, svenn = target.tripletex, target.svenn
    taken_in_svenn: Callable[[str], Awaitable[bool]] | None = None
    if svenn is not None:

        async def in_svenn(number: str) -> bool:
            return bool(await svenn.projects.find_by_display_id(number, include_deleted=True))

        taken_in_svenn = in_svenn
    async with target.numbering:
        for attempt in range(1, NUMBERING_ATTEMPTS + 1):
            current = await _get_or_fail(tx.projects.get(project_id, fields="id,version,number"), "project")
            if _has_number(current.number):
                return _applied(
                    command,
                    project_id,
                    f"the project already has number {current.number!r} (nothing written)",
                )
            number = await free_number(await tx.projects.numbers(), taken_in_svenn)

            def assign(project: Project, number: str = number) -> None:
                if not _has_number(project.number):
                    project.number = number

            try:
                updated = await tx.projects.revise(project_id, assign)
            except TripletexValidationError as exc:
                if "number" in exc.fields and attempt < NUMBERING_ATTEMPTS:
                    continue  # taken since we listed: generate again
                raise
            return _numbered(command, project_id, updated.written, updated.record.number, svenn is not None)
    raise AssertionError("unreachable")  # pragma: no cover


async def _number_employee(command: Command, target: TenantTarget, employee_id: int) -> Outcome:
    tx, svenn = target.tripletex, target.svenn
    taken_in_svenn: Callable[[str], Awaitable[bool]] | None = None
    if svenn is not None:

        async def in_svenn(number: str) -> bool:
            return await svenn.employees.find_by_number(number) is not None

        taken_in_svenn = in_svenn
    async with target.numbering:
        for attempt in range(1, NUMBERING_ATTEMPTS + 1):
            current = await _get_or_fail(
                tx.employees.get(employee_id, fields="id,version,employeeNumber"), "employee"
            )
            if _has_number(current.employee_number):
                return _applied(
                    command,
                    employee_id,
                    f"the employee already has number {current.employee_number!r} (nothing written)",
                )
            number = await free_number(await tx.employees.numbers(), taken_in_svenn)

            def assign(employee: Employee, number: str = number) -> None:
                if not _has_number(employee.employee_number):
                    employee.employee_number = number

            try:
                updated = await tx.employees.revise(employee_id, assign)
            except TripletexValidationError as exc:
                if "employeeNumber" in exc.fields and attempt < NUMBERING_ATTEMPTS:
                    continue
                raise
            return _numbered(
                command, employee_id, updated.written, updated.record.employee_number, svenn is not None
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _numbered(
    command: Command, record_id: int, written: bool, number: str | None, checked_svenn: bool
) -> Outcome:
    if not written:
        return _applied(command, record_id, f"already has number {number!r} (nothing written)")
    sides = "Tripletex and Svenn" if checked_svenn else "Tripletex"
    return _applied(
        command,
        record_id,
        f"assigned number {number!r}: the next integer after the highest numeric number in {sides}, "
        "free on both; written back with version locking",
    )


# --------------------------------------------------------------------------- field-level updates
# Snapshot field (the decision's vocabulary) -> the Tripletex body keys it is written as.
# ``status`` is ``isClosed`` and ``active`` is ``isInactive``; the address lines are keys of
# the nested ``postalAddress``. ``member_ids`` (S-P8) are not written by this writer.
_BODY_KEYS: dict[str, tuple[str, ...]] = {
    "number": ("number",),
    "name": ("name",),
    "start_date": ("startDate",),
    "end_date": ("endDate",),
    "status": ("isClosed",),
    "customer_number": ("customerNumber",),
    "organization_number": ("organizationNumber",),
    "email": ("email",),
    "phone": ("phoneNumber", "phoneNumberMobile"),
    "active": ("isInactive",),
    "employee_number": ("employeeNumber",),
    "first_name": ("firstName",),
    "last_name": ("lastName",),
}
_ADDRESS_KEYS: dict[str, str] = {"address_line": "addressLine1", "postal_code": "postalCode", "city": "city"}


def _changed_fields(command: Command) -> tuple[str, ...] | None:
    """The fields the decision says changed since the last sync (None: not known, write all)."""
    changed = getattr(command, "changed_fields", None)
    return tuple(changed) if changed is not None else None


def only_changed(body: dict[str, Any], changed: tuple[str, ...] | None) -> dict[str, Any]:
    """``body`` cut down to the fields that changed since the last sync.

    So a change made meanwhile to *other* fields in Tripletex is not overwritten with the
    older value Svenn still holds (field-level last writer wins). ``None`` keeps everything.
    """
    if changed is None:
        return body
    keys = {key for name in changed for key in _BODY_KEYS.get(name, ())}
    kept = {key: value for key, value in body.items() if key in keys}
    address = body.get("postalAddress")
    if isinstance(address, dict):
        lines = {
            _ADDRESS_KEYS[n]: address[_ADDRESS_KEYS[n]] for n in changed if _ADDRESS_KEYS.get(n) in address
        }
        if lines:
            kept["postalAddress"] = lines
    return kept


# --------------------------------------------------------------------------- helpers
def failed(command: Command, error_code: str, message: str) -> Outcome:
    log.warning(
        "tripletex write failed",
        extra={
            # Not the message: the side's answer may quote the record. It is in the outcome and error log.
            "tenant_id": command.tenant_id,
            "command_id": str(command.command_id),
            "error_code": error_code,
        },
    )
    return outcome_for(command, OutcomeStatus.FAILED, error_code=error_code, error_message=message)


def validation_details(exc: TripletexValidationError) -> str:
    """``field: message`` pairs, one per validation message (what the error log shows)."""
    if not exc.validation_messages:
        return exc.message
    return "; ".join(f"{m.field or m.path or '(record)'}: {m.message}" for m in exc.validation_messages)


KEPT_AT_LINK = "Tripletex keeps its values at link time (they flow to Svenn); nothing written"


def _applied(
    command: Command, record_id: int, reason: str, *, written: EntitySnapshot | None = None
) -> Outcome:
    """``written``: what both sides hold now, when it is not the command's payload."""
    return outcome_for(
        command, OutcomeStatus.APPLIED, target_entity_id=str(record_id), reason=reason, written=written
    )


def _what(updated: Updated[Any]) -> str:
    if not updated.written:
        return "already up to date (nothing written)"
    return f"updated {', '.join(sorted(updated.changed))}"


def _notes(notes: list[str]) -> str:
    return "".join(f"; {note}" for note in notes)


def _has_number(number: str | None) -> bool:
    """Tripletex returns an unset number as ``""``: blank counts as none (S-P5, S-E2)."""
    return bool(number and number.strip())


def _id(value: int | None) -> int:
    if value is None:
        raise CommandFailed(WRITE_REJECTED, "Tripletex returned a record without an id")
    return value


def _parse_id(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise CommandFailed(WRITE_REJECTED, f"{value!r} is not a Tripletex id")
    return int(value)


async def _get_or_fail(read: Awaitable[Any], what: str) -> Any:
    try:
        return await read
    except TripletexNotFound:
        raise CommandFailed(
            WRITE_REJECTED, f"the Tripletex {what} does not exist (deleted in Tripletex?)"
        ) from None


_SNAPSHOT_OF: dict[EntityType, type[ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot]] = {
    EntityType.PROJECT: ProjectSnapshot,
    EntityType.CUSTOMER: CustomerSnapshot,
    EntityType.EMPLOYEE: EmployeeSnapshot,
}


def _payload(command: Command) -> ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot:
    expected = _SNAPSHOT_OF.get(command.entity_type)
    payload = command.payload
    if (
        expected is None
        or not isinstance(payload, ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot)
        or not isinstance(payload, expected)
    ):
        raise CommandFailed(
            WRITE_REJECTED,
            f"the {command.operation.value} command carries no {command.entity_type.value} payload",
        )
    return payload


def _apply_customer(customer: Customer, body: dict[str, Any]) -> None:
    """``apply_body`` with the postal address merged into the one Tripletex has.

    Replacing the address object would drop its ``id`` and ``addressLine2`` and so differ on
    every run (a write, a webhook, an echo); editing the lines in place compares equal when
    nothing changed and updates the same address object when something did.
    """
    rest = dict(body)
    address = rest.pop("postalAddress", None)
    apply_body(customer, rest)
    if address:
        if customer.postal_address is None:
            customer.postal_address = Address.model_validate(address)
        else:
            apply_body(customer.postal_address, address)


def _employee_change(
    payload: EmployeeSnapshot, changed: tuple[str, ...] | None = None
) -> Callable[[Employee], None]:
    """Bring an employee up to the payload; a number Tripletex already gave it is kept.

    Tripletex is where employee numbers come from (S-E2 generates them there and Svenn
    follows), so a Svenn number only fills an empty one.
    """
    body = only_changed(employee_update_body(payload), changed)

    def change(employee: Employee) -> None:
        wanted = dict(body)
        if _has_number(employee.employee_number):
            wanted.pop("employeeNumber", None)
        apply_body(employee, wanted)

    return change
