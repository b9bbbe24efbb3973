"""Business rules for creating, changing and deleting records, independent of HTTP.

The rules here are the ones a real Svenn would enforce and that shape the sync engine's
life: top-level projects have unique display ids but sub-projects may reuse their parent's
(S-P2); numbers are strings (S-P6, S-C1); projects and customers are soft-deleted so
catch-up polling still sees the deletion; a no-op PATCH changes nothing and emits nothing,
which is what keeps a two-way sync from echoing its own writes forever.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from services.restsim.error_envelope import ApiError, field_error, not_found
from services.svenn.simulator.models import (
    CustomerCreate,
    CustomerPatch,
    CustomerRecord,
    EmployeeCreate,
    EmployeePatch,
    EmployeeRecord,
    ProjectCreate,
    ProjectPatch,
    ProjectRecord,
)
from services.svenn.simulator.state import TenantState, new_id

R = TypeVar("R", bound=BaseModel)


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: 3``, ``"3"`` and ``W/"3"`` all mean version 3; ``*`` or absent means any."""
    if value is None or value.strip() == "*":
        return None
    raw = value.strip()
    raw = raw.removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ApiError(
            400, "INVALID_IF_MATCH", 'If-Match must be the record\'s integer version, e.g. If-Match: "3".'
        )
    return int(raw)


def check_version(resource: str, record: Any, expected: int | None) -> None:
    if expected is not None and expected != record.version:
        raise ApiError(
            412,
            "VERSION_CONFLICT",
            f"The {resource} was changed since you read it (you sent version {expected}, "
            f"current is {record.version}). Re-read it and apply your change again.",
            extra={"current_version": record.version},
        )


def _require(merged: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, str]]:
    return [field_error(f, "May not be null.") for f in fields if merged.get(f) is None]


def _raise_if(errors: list[dict[str, str]]) -> None:
    if errors:
        raise ApiError(422, "VALIDATION_FAILED", "The request failed validation.", details=errors)


def _apply(tenant: TenantState, record: R, changes: dict[str, Any]) -> tuple[R, bool, bool]:
    """Return the updated record, whether anything changed, and whether the status changed."""
    current = record.model_dump()
    effective = {k: v for k, v in changes.items() if current.get(k) != v}
    if not effective:
        return record, False, False
    status_changed = "status" in effective
    updated = record.model_copy(
        update={**effective, "version": record.version + 1, "updated_at": tenant.now()}  # type: ignore[attr-defined]
    )
    return updated, True, status_changed


def _event_for(changed: bool, status_changed: bool, new_status: str) -> str | None:
    if not changed:
        return None
    if status_changed:
        return "deleted" if new_status == "deleted" else "status_changed"
    return "updated"


# ---------------------------------------------------------------------------- projects


def _check_project(tenant: TenantState, merged: dict[str, Any], self_id: str | None) -> None:
    errors = _require(merged, ("name", "display_id", "status"))
    start, end = merged.get("start_date"), merged.get("end_date")
    if start and end and end < start:
        errors.append(field_error("end_date", "Must be on or after start_date."))
    customer_id = merged.get("customer_id")
    if customer_id is not None:
        customer = tenant.customers.get(customer_id)
        if customer is None or customer.status == "deleted":
            errors.append(field_error("customer_id", f"No customer {customer_id!r}."))
    for i, member in enumerate(merged.get("member_ids") or []):
        if member not in tenant.employees:
            errors.append(field_error(f"member_ids.{i}", f"No employee {member!r}."))
    _raise_if(errors)
    if merged.get("parent_id") is None:
        for other in tenant.projects.values():
            if (
                other.id != self_id
                and other.parent_id is None
                and other.status != "deleted"
                and other.display_id == merged["display_id"]
            ):
                raise ApiError(
                    409,
                    "DUPLICATE_DISPLAY_ID",
                    f"Another project already uses display_id {merged['display_id']!r}.",
                    extra={"conflicting_id": other.id},
                )


def _next_number(existing: list[str], start: int) -> str:
    numeric = [int(n) for n in existing if n.isdigit()]
    return str(max([start - 1, *numeric]) + 1)


def create_project(tenant: TenantState, body: ProjectCreate) -> ProjectRecord:
    data = body.model_dump()
    parent_id = data.get("parent_id")
    if parent_id is not None:
        parent = tenant.projects.get(parent_id)
        if parent is None or parent.status == "deleted":
            raise ApiError(
                422,
                "VALIDATION_FAILED",
                "The request failed validation.",
                details=[field_error("parent_id", f"No project {parent_id!r}.")],
            )
        if parent.parent_id is not None:
            _raise_if([field_error("parent_id", "Sub-projects cannot have sub-projects.")])
        if data.get("display_id") is None:
            # Svenn's habit that S-P2 exists for: a sub-project shows its parent's id.
            data["display_id"] = parent.display_id
    if data.get("display_id") is None:
        data["display_id"] = _next_number(
            [p.display_id for p in tenant.projects.values() if p.parent_id is None], 1000
        )
    data["member_ids"] = list(dict.fromkeys(data.get("member_ids") or []))
    _check_project(tenant, data, None)
    now = tenant.now()
    record = ProjectRecord(
        id=new_id("prj"), created_at=now, updated_at=now, seq=tenant.next_seq(), version=1, **data
    )
    tenant.projects[record.id] = record
    return record


def update_project(
    tenant: TenantState, project_id: str, body: ProjectPatch, expected: int | None
) -> tuple[ProjectRecord, str | None]:
    record = get_project(tenant, project_id)
    check_version("project", record, expected)
    if record.status == "deleted":
        raise ApiError(409, "RESOURCE_DELETED", "Deleted projects cannot be changed.")
    changes = body.model_dump(exclude_unset=True)
    if "member_ids" in changes and changes["member_ids"] is not None:
        changes["member_ids"] = list(dict.fromkeys(changes["member_ids"]))
    merged = {**record.model_dump(), **changes}
    _check_project(tenant, merged, record.id)
    updated, changed, status_changed = _apply(tenant, record, changes)
    tenant.projects[record.id] = updated
    return updated, _event_for(changed, status_changed, updated.status)


def delete_project(
    tenant: TenantState, project_id: str, expected: int | None
) -> tuple[ProjectRecord, str | None]:
    record = get_project(tenant, project_id)
    check_version("project", record, expected)
    updated, changed, status_changed = _apply(tenant, record, {"status": "deleted"})
    tenant.projects[record.id] = updated
    return updated, _event_for(changed, status_changed, updated.status)


def get_project(tenant: TenantState, project_id: str) -> ProjectRecord:
    record = tenant.projects.get(project_id)
    if record is None:
        raise not_found("project", project_id)
    return record


# --------------------------------------------------------------------------- customers


def _check_customer(tenant: TenantState, merged: dict[str, Any], self_id: str | None) -> None:
    _raise_if(_require(merged, ("name", "customer_number", "status", "country_code")))
    for other in tenant.customers.values():
        if (
            other.id != self_id
            and other.status != "deleted"
            and other.customer_number == merged["customer_number"]
        ):
            raise ApiError(
                409,
                "DUPLICATE_CUSTOMER_NUMBER",
                f"Another customer already has customer_number {merged['customer_number']!r}.",
                extra={"conflicting_id": other.id},
            )


def create_customer(tenant: TenantState, body: CustomerCreate) -> CustomerRecord:
    data = body.model_dump()
    if data.get("customer_number") is None:
        data["customer_number"] = _next_number([c.customer_number for c in tenant.customers.values()], 10000)
    _check_customer(tenant, data, None)
    now = tenant.now()
    record = CustomerRecord(id=new_id("cus"), created_at=now, updated_at=now, seq=tenant.next_seq(), **data)
    tenant.customers[record.id] = record
    return record


def update_customer(
    tenant: TenantState, customer_id: str, body: CustomerPatch, expected: int | None
) -> tuple[CustomerRecord, str | None]:
    record = get_customer(tenant, customer_id)
    check_version("customer", record, expected)
    if record.status == "deleted":
        raise ApiError(409, "RESOURCE_DELETED", "Deleted customers cannot be changed.")
    changes = body.model_dump(exclude_unset=True)
    _check_customer(tenant, {**record.model_dump(), **changes}, record.id)
    updated, changed, status_changed = _apply(tenant, record, changes)
    tenant.customers[record.id] = updated
    return updated, _event_for(changed, status_changed, updated.status)


def delete_customer(
    tenant: TenantState, customer_id: str, expected: int | None
) -> tuple[CustomerRecord, str | None]:
    record = get_customer(tenant, customer_id)
    check_version("customer", record, expected)
    updated, changed, status_changed = _apply(tenant, record, {"status": "deleted"})
    tenant.customers[record.id] = updated
    return updated, _event_for(changed, status_changed, updated.status)


def get_customer(tenant: TenantState, customer_id: str) -> CustomerRecord:
    record = tenant.customers.get(customer_id)
    if record is None:
        raise not_found("customer", customer_id)
    return record


# --------------------------------------------------------------------------- employees


def _check_employee(tenant: TenantState, merged: dict[str, Any], self_id: str | None) -> None:
    _raise_if(_require(merged, ("first_name", "status")))
    for other in tenant.employees.values():
        if other.id == self_id:
            continue
        if merged.get("employee_number") is not None and other.employee_number == merged["employee_number"]:
            raise ApiError(
                409,
                "DUPLICATE_EMPLOYEE_NUMBER",
                f"Another employee already has employee_number {merged['employee_number']!r}.",
                extra={"conflicting_id": other.id},
            )
        email = merged.get("email")
        if email is not None and other.email is not None and other.email.lower() == email.lower():
            raise ApiError(
                409,
                "DUPLICATE_EMAIL",
                f"Another employee already uses e-mail {email!r}.",
                extra={"conflicting_id": other.id},
            )


def create_employee(tenant: TenantState, body: EmployeeCreate) -> EmployeeRecord:
    data = body.model_dump()
    _check_employee(tenant, data, None)
    now = tenant.now()
    record = EmployeeRecord(id=new_id("emp"), created_at=now, updated_at=now, seq=tenant.next_seq(), **data)
    tenant.employees[record.id] = record
    return record


def update_employee(
    tenant: TenantState, employee_id: str, body: EmployeePatch, expected: int | None
) -> tuple[EmployeeRecord, str | None]:
    record = get_employee(tenant, employee_id)
    check_version("employee", record, expected)
    changes = body.model_dump(exclude_unset=True)
    _check_employee(tenant, {**record.model_dump(), **changes}, record.id)
    updated, changed, status_changed = _apply(tenant, record, changes)
    tenant.employees[record.id] = updated
    return updated, _event_for(changed, status_changed, updated.status)


def get_employee(tenant: TenantState, employee_id: str) -> EmployeeRecord:
    record = tenant.employees.get(employee_id)
    if record is None:
        raise not_found("employee", employee_id)
    return record
