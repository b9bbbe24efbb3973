"""Svenn's records ↔ the engine's side-neutral snapshots, both ways, as pure functions.

Ingest maps a Svenn record into a ``ProjectSnapshot`` / ``CustomerSnapshot`` /
``EmployeeSnapshot`` so the rules read one vocabulary; the writer maps a snapshot back into
the fields Svenn's API takes. Keeping both directions here, next to each other, is what keeps
them inverse: a value read from Svenn and written back unchanged must compare equal, or the
two-way sync would write (and echo a webhook) forever.

Numbers (``display_id``, ``customer_number``, ``employee_number``) stay strings from end to
end: project numbers hold letters and dots (S-P6) and customer numbers may be non-numeric
(S-C1), so nothing here parses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from contracts.entities import (
    CustomerSnapshot,
    EmployeeSnapshot,
    EntitySnapshot,
    ProjectSnapshot,
    ProjectStatus,
)
from contracts.envelope import ChangeKind, EntityType
from services.svenn.client.models import (
    Customer,
    CustomerCreate,
    Employee,
    EmployeeCreate,
    Project,
    ProjectCreate,
    Record,
)

SvennRecord = Project | Customer | Employee

# Svenn's webhook event types end in one of these (``project.status_changed`` …).
_CHANGE_KINDS = {
    "created": ChangeKind.CREATED,
    "updated": ChangeKind.UPDATED,
    "status_changed": ChangeKind.STATUS_CHANGED,
    "deleted": ChangeKind.DELETED,
}

# Fields compared as sets: Svenn keeps member order, Tripletex's participant order is
# arbitrary; writing only because the order differs would bounce between the sides.
_UNORDERED = frozenset({"member_ids"})


# --------------------------------------------------------------------------- Svenn -> engine
def entity_type_of(record: SvennRecord) -> EntityType:
    if isinstance(record, Project):
        return EntityType.PROJECT
    if isinstance(record, Customer):
        return EntityType.CUSTOMER
    return EntityType.EMPLOYEE


def is_deleted(record: SvennRecord) -> bool:
    """Projects and customers are soft-deleted (``status: deleted``); employees never are."""
    return record.status == "deleted"


def change_kind_of_event(event_type: str) -> ChangeKind:
    """``project.status_changed`` -> ``STATUS_CHANGED``; raises ``ValueError`` for an unknown type."""
    _, _, change = event_type.partition(".")
    try:
        return _CHANGE_KINDS[change]
    except KeyError:
        raise ValueError(f"unknown Svenn event type {event_type!r}") from None


def change_kind_of_polled(record: SvennRecord) -> ChangeKind:
    """What a polled record's latest change must have been, as far as the record tells.

    Polling sees states, not events: version 1 is the create, a deleted record was deleted,
    anything else is reported as an update (the rules treat update and status change alike:
    they read the snapshot, not the kind).
    """
    if is_deleted(record):
        return ChangeKind.DELETED
    return ChangeKind.CREATED if record.version == 1 else ChangeKind.UPDATED


def project_snapshot(project: Project) -> ProjectSnapshot:
    return ProjectSnapshot(
        number=project.display_id,
        name=project.name,
        start_date=project.start_date,
        end_date=project.end_date,
        status=ProjectStatus.COMPLETED if project.status == "completed" else ProjectStatus.ACTIVE,
        parent_id=project.parent_id,
        customer_id=project.customer_id,
        member_ids=tuple(project.member_ids),
    )


def customer_snapshot(customer: Customer) -> CustomerSnapshot:
    # Only the first address line: the canonical shape has one, and joining both lines would
    # make a value that, written back, no longer equals what Svenn holds (a write loop).
    return CustomerSnapshot(
        customer_number=customer.customer_number,
        name=customer.name,
        organization_number=customer.organization_number,
        email=customer.email,
        phone=customer.phone,
        address_line=customer.address_line1,
        postal_code=customer.postal_code,
        city=customer.city,
        active=customer.status == "active",
    )


def employee_snapshot(employee: Employee) -> EmployeeSnapshot:
    return EmployeeSnapshot(
        employee_number=employee.employee_number,
        first_name=employee.first_name,
        last_name=employee.last_name,
        email=employee.email,
        phone=employee.phone,
        active=employee.status == "active",
    )


def snapshot_of(record: SvennRecord) -> EntitySnapshot | None:
    """The record as a snapshot, or ``None`` once it is deleted (the change kind says so)."""
    if is_deleted(record):
        return None
    if isinstance(record, Project):
        return project_snapshot(record)
    if isinstance(record, Customer):
        return customer_snapshot(record)
    return employee_snapshot(record)


# --------------------------------------------------------------------------- engine -> Svenn
def project_fields(snapshot: ProjectSnapshot, *, with_references: bool = False) -> dict[str, Any]:
    """The Svenn project fields the snapshot speaks for, as Python values.

    ``with_references`` says whether ``customer_id`` holds a *Svenn* id. A snapshot that came
    from Tripletex carries Tripletex's customer id, which means nothing in Svenn, so it is
    left out rather than written as a dangling reference. (``member_ids`` are already Svenn
    ids: the rule maps participants through the employee links, S-P8.) A missing number is
    never sent: it would clear the display id.
    """
    fields: dict[str, Any] = {
        "name": snapshot.name,
        "start_date": snapshot.start_date,
        "end_date": snapshot.end_date,
        "status": "completed" if snapshot.status is ProjectStatus.COMPLETED else "active",
        "member_ids": list(dict.fromkeys(snapshot.member_ids)),
    }
    if snapshot.number is not None:
        fields["display_id"] = snapshot.number
    if with_references:
        fields["customer_id"] = snapshot.customer_id
    return fields


def customer_fields(snapshot: CustomerSnapshot) -> dict[str, Any]:
    """The Svenn customer fields the snapshot speaks for (address line 2 and country are Svenn's own)."""
    fields: dict[str, Any] = {
        "name": snapshot.name,
        "organization_number": snapshot.organization_number,
        "email": snapshot.email,
        "phone": snapshot.phone,
        "address_line1": snapshot.address_line,
        "postal_code": snapshot.postal_code,
        "city": snapshot.city,
        "status": "active" if snapshot.active else "inactive",
    }
    if snapshot.customer_number is not None:
        fields["customer_number"] = snapshot.customer_number
    return fields


def employee_fields(snapshot: EmployeeSnapshot) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "first_name": snapshot.first_name,
        "last_name": snapshot.last_name,
        "email": snapshot.email,
        "phone": snapshot.phone,
        "status": "active" if snapshot.active else "inactive",
    }
    if snapshot.employee_number is not None:
        fields["employee_number"] = snapshot.employee_number
    return fields


# Canonical snapshot field -> the Svenn field it is written to, where the names differ.
_SVENN_NAME = {
    EntityType.PROJECT: {"number": "display_id"},
    EntityType.CUSTOMER: {"address_line": "address_line1", "active": "status"},
    EntityType.EMPLOYEE: {"active": "status"},
}


def svenn_field_names(entity_type: EntityType, canonical: Iterable[str]) -> set[str]:
    """The Svenn fields that carry the given snapshot fields (``number`` -> ``display_id`` …).

    Lets an update write only what changed on the other side (``Command.changed_fields``),
    so a concurrent edit of another field in Svenn is not overwritten with an older value.
    """
    renames = _SVENN_NAME[entity_type]
    return {renames.get(name, name) for name in canonical}


def project_create(snapshot: ProjectSnapshot, *, with_references: bool = False) -> ProjectCreate:
    body = project_fields(snapshot, with_references=with_references)
    if with_references and snapshot.parent_id is not None:
        body["parent_id"] = snapshot.parent_id
    return ProjectCreate.model_validate(body)


def customer_create(snapshot: CustomerSnapshot) -> CustomerCreate:
    return CustomerCreate.model_validate(customer_fields(snapshot))


def employee_create(snapshot: EmployeeSnapshot) -> EmployeeCreate:
    return EmployeeCreate.model_validate(employee_fields(snapshot))


def patch_for(current: Record, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``desired`` whose value differs from ``current``, JSON-ready; empty = up to date.

    An empty patch is how the writer knows not to write at all, which is what ends the echo
    between the two sides: Svenn's change reaches Tripletex, Tripletex's webhook comes back
    as a command to write the same values, and this returns ``{}``.
    """
    patch: dict[str, Any] = {}
    for name, wanted in desired.items():
        have = getattr(current, name, None)
        if name in _UNORDERED:
            if set(have or ()) == set(wanted or ()):
                continue
        elif have == wanted:
            continue
        patch[name] = _json(wanted)
    return patch


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
