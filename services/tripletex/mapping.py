"""Tripletex records ↔ the engine's side-neutral snapshots, both ways, as pure functions.

Ingest maps a Tripletex record (a webhook ``value``, a fetched object, or one of the client's
models) into a ``ProjectSnapshot`` / ``CustomerSnapshot`` / ``EmployeeSnapshot`` so the rules
read one vocabulary; the writer maps a snapshot back into the JSON body Tripletex takes. Both
directions live here, side by side, so a value read from Tripletex and written back unchanged
stays equal and the two-way sync does not write (and echo a webhook) forever.

What shapes the code:

* **Numbers stay strings** on the way in: a project number may be ``2024.17`` or ``A12.3``
  (S-P6) and an employee number is a string in the spec. Only ``customerNumber`` is an int32
  in Tripletex; it becomes a string in the snapshot and is turned back into an int only when
  written, after checking that it is all digits (S-C1 has rejected the rest before that).
* **Tripletex sends ``""`` for unset text** (also for dates and enums): ``""`` becomes
  ``None``, so an employee without a number really has none (S-E2) and a project without an
  end date has ``end_date=None``.
* **References hold Tripletex ids.** ``customer_id``, ``parent_id`` and ``member_ids`` of a
  snapshot made here are Tripletex ids; the reverse mapping therefore never copies a
  snapshot's references (a snapshot from Svenn carries *Svenn* ids) but takes the Tripletex
  ids the writer resolved through the link table as keyword arguments.
* **Update bodies carry only what the engine may change**: never ``isInternal`` (S-P4), never
  ``isInactive=true`` (S-C3), never ``isClosed=false`` (no rule reopens a project), and no
  nulls (Tripletex's PUT is partial; the client's ``write_body`` drops nulls anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts.entities import (
    CustomerSnapshot,
    EmployeeSnapshot,
    EntitySnapshot,
    ProjectSnapshot,
    ProjectStatus,
)
from contracts.envelope import EntityType

TripletexRecord = Mapping[str, Any] | BaseModel
"""A Tripletex object as JSON (camelCase keys) or as one of the client's pydantic models."""

M = TypeVar("M", bound=BaseModel)

# Tripletex webhook subjects (``project.update`` → ``project``) the engine syncs.
ENTITY_OF_SUBJECT: dict[str, EntityType] = {
    "project": EntityType.PROJECT,
    "customer": EntityType.CUSTOMER,
    "employee": EntityType.EMPLOYEE,
}
SUBJECT_OF_ENTITY: dict[EntityType, str] = {v: k for k, v in ENTITY_OF_SUBJECT.items()}

# ``fields`` selections that give the mapping everything it reads, and nothing more. Used for
# fetches and for the event subscriptions' ``fields``, so a webhook's ``value`` is already
# complete and needs no second request. Nested objects must be named: a bare ``participants``
# comes back as ``[{id, url}]``, without the employee (REFERENCE §2).
PROJECT_FIELDS = (
    "id,version,name,number,startDate,endDate,isClosed,isInternal,"
    "mainProject(id),customer(id),participants(id,employee(id))"
)
CUSTOMER_FIELDS = (
    "id,version,name,customerNumber,organizationNumber,email,invoiceEmail,phoneNumber,"
    "phoneNumberMobile,isInactive,invoiceSendMethod,postalAddress(addressLine1,addressLine2,postalCode,city)"
)
EMPLOYEE_FIELDS = "id,version,firstName,lastName,employeeNumber,email,phoneNumberMobile"

FIELDS_OF: dict[EntityType, str] = {
    EntityType.PROJECT: PROJECT_FIELDS,
    EntityType.CUSTOMER: CUSTOMER_FIELDS,
    EntityType.EMPLOYEE: EMPLOYEE_FIELDS,
}

# Top-level keys a record must carry for the mapping to be faithful (absent ≠ false/empty).
_REQUIRED_KEYS: dict[EntityType, tuple[str, ...]] = {
    EntityType.PROJECT: (
        "id",
        "version",
        "name",
        "number",
        "startDate",
        "endDate",
        "isClosed",
        "isInternal",
        "mainProject",
        "customer",
        "participants",
    ),
    EntityType.CUSTOMER: (
        "id",
        "version",
        "name",
        "customerNumber",
        "organizationNumber",
        "email",
        "phoneNumber",
        "isInactive",
        "invoiceSendMethod",
        "postalAddress",
    ),
    EntityType.EMPLOYEE: ("id", "version", "firstName", "lastName", "employeeNumber", "email"),
}


class MappingError(ValueError):
    """A Tripletex record that cannot become a snapshot (or a snapshot that cannot become a body)."""


# --------------------------------------------------------------------------- Tripletex -> engine
def as_json(record: TripletexRecord) -> dict[str, Any]:
    """A record as Tripletex's JSON: the client's models are dumped by alias (extra fields kept)."""
    if isinstance(record, BaseModel):
        dumped: dict[str, Any] = record.model_dump(mode="json", by_alias=True)
        return dumped
    return dict(record)


def is_complete(entity_type: EntityType, record: TripletexRecord) -> bool:
    """Whether ``record`` holds every field the mapping reads, nested ones expanded.

    A webhook ``value`` is filtered by its subscription's ``fields``; one made without our
    selection lacks fields or has references without their content (participants without the
    employee, a postal address without its lines). Mapping such a value would turn "not sent"
    into "empty" and sync a blank over real data, so ingest fetches the record instead.
    """
    data = as_json(record)
    if any(key not in data for key in _REQUIRED_KEYS[entity_type]):
        return False
    if entity_type is EntityType.PROJECT:
        participants = data.get("participants") or []
        if not isinstance(participants, list):
            return False  # not a listing of participants: read the record itself
        return all(isinstance(p, Mapping) and "employee" in p for p in participants)
    if entity_type is EntityType.CUSTOMER:
        address = data.get("postalAddress")
        return address is None or (isinstance(address, Mapping) and "addressLine1" in address)
    return True


def record_id(record: TripletexRecord) -> str:
    """The record's Tripletex id as the engine's entity id (a string, like every id on the wire)."""
    value = as_json(record).get("id")
    if value is None or value == "":
        raise MappingError("Tripletex record has no id")
    return str(value)


def version_of(record: TripletexRecord) -> str | None:
    """Tripletex's optimistic-locking ``version``: the source version of a change event."""
    value = as_json(record).get("version")
    return None if value is None or value == "" else str(value)


def project_snapshot(record: TripletexRecord) -> ProjectSnapshot:
    data = as_json(record)
    return ProjectSnapshot(
        number=_text(data.get("number")),
        name=_required_text(data, "name", "project"),
        start_date=_date(data.get("startDate")),
        end_date=_date(data.get("endDate")),
        status=ProjectStatus.COMPLETED if data.get("isClosed") else ProjectStatus.ACTIVE,
        is_internal=bool(data.get("isInternal")),
        parent_id=_ref_id(data.get("mainProject")),
        customer_id=_ref_id(data.get("customer")),
        member_ids=_participant_employee_ids(data.get("participants")),
    )


def customer_snapshot(record: TripletexRecord) -> CustomerSnapshot:
    data = as_json(record)
    address = data.get("postalAddress")
    address = address if isinstance(address, Mapping) else {}
    # Only the first address line, like the Svenn side: the canonical shape has one line, and
    # joining two would make a value that, written back, no longer equals what Tripletex holds.
    return CustomerSnapshot(
        customer_number=_text(data.get("customerNumber")),
        name=_required_text(data, "name", "customer"),
        organization_number=_text(data.get("organizationNumber")),
        email=_text(data.get("email")) or _text(data.get("invoiceEmail")),
        phone=_text(data.get("phoneNumber")) or _text(data.get("phoneNumberMobile")),
        address_line=_text(address.get("addressLine1")),
        postal_code=_text(address.get("postalCode")),
        city=_text(address.get("city")),
        active=not data.get("isInactive"),
        invoice_send_method=_text(data.get("invoiceSendMethod")),
    )


def employee_snapshot(record: TripletexRecord) -> EmployeeSnapshot:
    data = as_json(record)
    # Tripletex has no inactive state for employees (S-E3): every employee it lists is active.
    return EmployeeSnapshot(
        employee_number=_text(data.get("employeeNumber")),
        first_name=_required_text(data, "firstName", "employee"),
        last_name=_text(data.get("lastName")),
        email=_text(data.get("email")),
        phone=_text(data.get("phoneNumberMobile")),
        active=True,
    )


_SNAPSHOTS: dict[EntityType, Callable[[TripletexRecord], EntitySnapshot]] = {
    EntityType.PROJECT: project_snapshot,
    EntityType.CUSTOMER: customer_snapshot,
    EntityType.EMPLOYEE: employee_snapshot,
}


def snapshot_of(entity_type: EntityType, record: TripletexRecord) -> EntitySnapshot:
    """The record as the snapshot of its entity type; raises ``MappingError`` if it cannot be one."""
    return _SNAPSHOTS[entity_type](record)


# --------------------------------------------------------------------------- engine -> Tripletex
def project_create_body(
    snapshot: ProjectSnapshot,
    *,
    project_manager_id: int,
    customer_id: int | None = None,
) -> dict[str, Any]:
    """``POST /project`` body. Tripletex requires ``projectManager`` and ``startDate`` (S-P1).

    ``isInternal`` is sent on create only (it is required there); participants are added
    afterwards through ``/project/participant`` (S-P8), which can be made idempotent, unlike
    an inline list. Without a number Tripletex generates one (S-P5 then writes ours back).
    """
    body: dict[str, Any] = {
        "name": snapshot.name,
        "projectManager": {"id": project_manager_id},
        "isInternal": snapshot.is_internal,
    }
    if snapshot.number is not None:
        body["number"] = snapshot.number
    body.update(_project_dates(snapshot))
    if snapshot.status is ProjectStatus.COMPLETED:
        body["isClosed"] = True
    if customer_id is not None:
        body["customer"] = {"id": customer_id}
    return body


def project_update_body(snapshot: ProjectSnapshot, *, customer_id: int | None = None) -> dict[str, Any]:
    """``PUT /project/{id}`` fields (without ``id``/``version``, which the client's locking adds).

    Never ``isInternal`` (S-P4: a linked internal project stays internal). ``isClosed`` is
    only ever set to true (S-P7, completed in Svenn → closed in Tripletex); no rule reopens.
    """
    body: dict[str, Any] = {"name": snapshot.name}
    if snapshot.number is not None:
        body["number"] = snapshot.number
    body.update(_project_dates(snapshot))
    if snapshot.status is ProjectStatus.COMPLETED:
        body["isClosed"] = True
    if customer_id is not None:
        body["customer"] = {"id": customer_id}
    return body


def customer_create_body(snapshot: CustomerSnapshot) -> dict[str, Any]:
    """``POST /customer`` body; invoices go by e-mail unless the snapshot says otherwise (S-C4)."""
    body = _customer_fields(snapshot)
    method = snapshot.invoice_send_method or "EMAIL"
    body["invoiceSendMethod"] = method
    if method == "EMAIL" and snapshot.email is not None:
        body["invoiceEmail"] = snapshot.email
    return body


def customer_update_body(
    snapshot: CustomerSnapshot, current: TripletexRecord | None = None
) -> dict[str, Any]:
    """``PUT /customer/{id}`` fields. Activation flows to Tripletex, deactivation never does (S-C3).

    The snapshot's phone and e-mail may have come from ``phoneNumberMobile``/``invoiceEmail``
    (when ``phoneNumber``/``email`` are blank). Given the ``current`` record, a value that
    already sits in that fallback field is not copied into the main one: an unchanged record
    then yields no difference, and the writer writes nothing.
    """
    body = _customer_fields(snapshot)
    if current is not None:
        have = as_json(current)
        for key, fallback in (("phoneNumber", "phoneNumberMobile"), ("email", "invoiceEmail")):
            if key in body and _text(have.get(key)) is None and _text(have.get(fallback)) == body[key]:
                del body[key]
    if snapshot.invoice_send_method is not None:
        body["invoiceSendMethod"] = snapshot.invoice_send_method
    if snapshot.active:
        body["isInactive"] = False
    return body


def employee_create_body(
    snapshot: EmployeeSnapshot, *, department_id: int | None = None, user_type: str = "NO_ACCESS"
) -> dict[str, Any]:
    """``POST /employee`` body.

    ``userType`` may not be empty in practice; the default ``NO_ACCESS`` gives a synced field
    worker no Tripletex login (and needs no e-mail). ``department`` is required when the
    company has the department module on: the writer passes the department it chose.
    """
    if snapshot.last_name is None:
        raise MappingError("Tripletex requires a last name (S-E1)")
    body = employee_update_body(snapshot)
    body["userType"] = user_type
    if department_id is not None:
        body["department"] = {"id": department_id}
    return body


def employee_update_body(snapshot: EmployeeSnapshot) -> dict[str, Any]:
    """``PUT /employee/{id}`` fields; a missing number is never sent (it would not clear S-E2's)."""
    body: dict[str, Any] = {"firstName": snapshot.first_name}
    if snapshot.last_name is not None:
        body["lastName"] = snapshot.last_name
    if snapshot.employee_number is not None:
        body["employeeNumber"] = snapshot.employee_number
    if snapshot.email is not None:
        body["email"] = snapshot.email
    if snapshot.phone is not None:
        body["phoneNumberMobile"] = snapshot.phone
    return body


def apply_body(model: M, body: Mapping[str, Any]) -> M:
    """Set the fields of a camelCase ``body`` on one of the client's models, in place.

    For the client's ``update(id, mutate)``: ``tx.projects.update(pid, lambda p:
    apply_body(p, project_update_body(snapshot)))`` sends only what differs, so an update
    that is already in place writes nothing (which ends the echo between the two sides).
    """
    parsed = type(model).model_validate(dict(body))
    aliases = {info.alias or name: name for name, info in type(model).model_fields.items()}
    for key, value in body.items():
        name = aliases.get(key, key)
        if name not in parsed.model_fields_set:
            continue
        nested = getattr(model, name, None)
        if isinstance(nested, BaseModel) and isinstance(value, Mapping) and "id" not in value:
            # Merge into the existing sub-object (a postal address keeps its id and the lines
            # the body does not speak for), so an unchanged value makes no difference to send.
            apply_body(nested, value)
            setattr(model, name, nested)
        else:
            setattr(model, name, getattr(parsed, name))
    return model


# --------------------------------------------------------------------------- helpers
def _text(value: Any) -> str | None:
    """Tripletex text as the engine's: ``""``/blank → ``None``; numbers as their digits, never parsed."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return str(value)


def _required_text(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise MappingError(f"Tripletex {what} {data.get('id')} has no {key}")
    return value


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MappingError(f"not a Tripletex date: {value!r}") from None


def _ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("id") is not None:
        return str(value["id"])
    return None


def _participant_employee_ids(participants: Any) -> tuple[str, ...]:
    """S-P8: participants' employee ids, sorted (Tripletex's list order means nothing) and unique."""
    ids: set[int | str] = set()
    for participant in participants or ():
        if isinstance(participant, Mapping):
            employee = participant.get("employee")
            if isinstance(employee, Mapping) and employee.get("id") is not None:
                ids.add(employee["id"])
    return tuple(str(i) for i in sorted(ids, key=lambda i: (len(str(i)), str(i))))


def _project_dates(snapshot: ProjectSnapshot) -> dict[str, Any]:
    dates: dict[str, Any] = {}
    if snapshot.start_date is not None:
        dates["startDate"] = snapshot.start_date.isoformat()
    if snapshot.end_date is not None:
        dates["endDate"] = snapshot.end_date.isoformat()
    return dates


def _customer_fields(snapshot: CustomerSnapshot) -> dict[str, Any]:
    body: dict[str, Any] = {"name": snapshot.name}
    if snapshot.customer_number is not None:
        number = snapshot.customer_number
        if not number.isascii() or not number.isdigit():
            raise MappingError(f"Tripletex customer numbers are numeric (S-C1), not {number!r}")
        body["customerNumber"] = int(number)
    optional = {
        "organizationNumber": snapshot.organization_number,
        "email": snapshot.email,
        "phoneNumber": snapshot.phone,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    address = {
        "addressLine1": snapshot.address_line,
        "postalCode": snapshot.postal_code,
        "city": snapshot.city,
    }
    if any(value is not None for value in address.values()):
        body["postalAddress"] = {key: value for key, value in address.items() if value is not None}
    return body
