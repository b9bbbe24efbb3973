"""Svenn records <-> canonical snapshots: pure, both directions, and inverse where it matters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeKind, EntityType
from services.svenn.client import Customer, Employee, Project
from services.svenn.mapping import (
    change_kind_of_event,
    change_kind_of_polled,
    customer_create,
    customer_fields,
    customer_snapshot,
    employee_create,
    employee_fields,
    employee_snapshot,
    entity_type_of,
    patch_for,
    project_create,
    project_fields,
    project_snapshot,
    snapshot_of,
    svenn_field_names,
)

NOW = datetime(2026, 11, 23, 19, 15, tzinfo=UTC)


def project(**overrides: Any) -> Project:
    fields: dict[str, Any] = {
        "id": "prj_1",
        "version": 3,
        "updated_at": NOW,
        "display_id": "2024.17",
        "name": "Tak",
        "start_date": date(2024, 3, 1),
        "end_date": None,
        "status": "active",
        "parent_id": None,
        "customer_id": "cus_1",
        "member_ids": ["emp_1", "emp_2"],
    }
    return Project.model_validate({**fields, **overrides})


def customer(**overrides: Any) -> Customer:
    fields: dict[str, Any] = {
        "id": "cus_1",
        "version": 1,
        "updated_at": NOW,
        "customer_number": "010001",
        "name": "Acme Bygg AS",
        "organization_number": "912345678",
        "email": "post@acme.no",
        "phone": None,
        "address_line1": "Storgata 1",
        "address_line2": "Bakgården",
        "postal_code": "0150",
        "city": "Oslo",
        "status": "active",
    }
    return Customer.model_validate({**fields, **overrides})


def employee(**overrides: Any) -> Employee:
    fields: dict[str, Any] = {
        "id": "emp_1",
        "version": 2,
        "updated_at": NOW,
        "employee_number": "E7",
        "first_name": "Kari",
        "last_name": "Nordmann",
        "email": "kari@acme.no",
        "status": "active",
    }
    return Employee.model_validate({**fields, **overrides})


# --------------------------------------------------------------------------- Svenn -> canonical
def test_project_display_id_becomes_the_number_as_a_string_S_P6() -> None:
    snap = project_snapshot(project(display_id="A12.3"))
    assert snap == ProjectSnapshot(
        number="A12.3",
        name="Tak",
        start_date=date(2024, 3, 1),
        status=ProjectStatus.ACTIVE,
        customer_id="cus_1",
        member_ids=("emp_1", "emp_2"),
    )


def test_completed_project_is_completed_and_subproject_keeps_its_parent_S_P2_S_P7() -> None:
    snap = project_snapshot(project(status="completed", parent_id="prj_0"))
    assert snap.status is ProjectStatus.COMPLETED
    assert snap.parent_id == "prj_0"


def test_customer_number_keeps_leading_zeros_and_non_digits_S_C1() -> None:
    assert customer_snapshot(customer()).customer_number == "010001"
    assert customer_snapshot(customer(customer_number="K-17")).customer_number == "K-17"


@pytest.mark.parametrize(("status", "active"), [("active", True), ("inactive", False)])
def test_customer_and_employee_active_follow_status_S_C2_S_E3(status: str, active: bool) -> None:
    assert customer_snapshot(customer(status=status)).active is active
    assert employee_snapshot(employee(status=status)).active is active


def test_customer_fields_map_across_names() -> None:
    snap = customer_snapshot(customer())
    assert (snap.address_line, snap.postal_code, snap.city) == ("Storgata 1", "0150", "Oslo")
    assert snap.organization_number == "912345678"


def test_employee_without_last_name_stays_without_S_E1() -> None:
    snap = employee_snapshot(employee(last_name=None))
    assert snap == EmployeeSnapshot(employee_number="E7", first_name="Kari", email="kari@acme.no")


def test_deleted_records_have_no_snapshot() -> None:
    assert snapshot_of(project(status="deleted")) is None
    assert snapshot_of(customer(status="deleted")) is None
    assert isinstance(snapshot_of(employee()), EmployeeSnapshot)


def test_entity_types() -> None:
    assert [entity_type_of(r) for r in (project(), customer(), employee())] == [
        EntityType.PROJECT,
        EntityType.CUSTOMER,
        EntityType.EMPLOYEE,
    ]


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("project.created", ChangeKind.CREATED),
        ("customer.updated", ChangeKind.UPDATED),
        ("project.status_changed", ChangeKind.STATUS_CHANGED),
        ("customer.deleted", ChangeKind.DELETED),
    ],
)
def test_change_kind_comes_from_the_event_type(event_type: str, kind: ChangeKind) -> None:
    assert change_kind_of_event(event_type) is kind


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Svenn event type"):
        change_kind_of_event("project.teleported")


def test_polled_change_kind_from_the_record_state() -> None:
    assert change_kind_of_polled(project(version=1)) is ChangeKind.CREATED
    assert change_kind_of_polled(project(version=4)) is ChangeKind.UPDATED
    assert change_kind_of_polled(customer(status="deleted", version=2)) is ChangeKind.DELETED


# --------------------------------------------------------------------------- canonical -> Svenn
def test_project_create_body_never_parses_the_number_S_P6() -> None:
    snap = ProjectSnapshot(number="2024.10", name="Tak", start_date=date(2024, 3, 1), member_ids=("e1",))
    body = project_create(snap).to_json()
    assert body["display_id"] == "2024.10"
    assert body == {
        "display_id": "2024.10",
        "name": "Tak",
        "start_date": "2024-03-01",
        "end_date": None,
        "status": "active",
        "member_ids": ["e1"],
    }


def test_foreign_customer_and_parent_ids_are_not_written() -> None:
    """A Tripletex snapshot's customer id is a Tripletex id: meaningless in Svenn."""
    snap = ProjectSnapshot(number="9", name="X", customer_id="tx-cust-5", parent_id="tx-p-1")
    assert "customer_id" not in project_fields(snap)
    assert "parent_id" not in project_create(snap).to_json()
    own = project_create(snap, with_references=True).to_json()
    assert (own["customer_id"], own["parent_id"]) == ("tx-cust-5", "tx-p-1")


def test_completed_status_and_missing_number() -> None:
    fields = project_fields(ProjectSnapshot(name="X", status=ProjectStatus.COMPLETED))
    assert fields["status"] == "completed"
    assert "display_id" not in fields  # never clears Svenn's display id


def test_customer_body() -> None:
    snap = CustomerSnapshot(
        customer_number="0042",
        name="Acme",
        address_line="Storgata 1",
        active=False,
        invoice_send_method="EMAIL",
    )
    body = customer_create(snap).to_json()
    assert body["customer_number"] == "0042"
    assert body["address_line1"] == "Storgata 1"
    assert body["status"] == "inactive"
    assert "invoice_send_method" not in body
    assert "customer_number" not in customer_fields(snap.model_copy(update={"customer_number": None}))


def test_employee_body() -> None:
    body = employee_create(EmployeeSnapshot(employee_number="12", first_name="Ola", last_name="N")).to_json()
    assert body == {
        "employee_number": "12",
        "first_name": "Ola",
        "last_name": "N",
        "email": None,
        "phone": None,
        "status": "active",
    }
    assert "employee_number" not in employee_fields(EmployeeSnapshot(first_name="Ola"))


# --------------------------------------------------------------------------- round trip and patches
def test_a_record_mapped_and_mapped_back_needs_no_patch() -> None:
    """The echo stopper: what was read from Svenn, written back, changes nothing."""
    p = project()
    assert patch_for(p, project_fields(project_snapshot(p), with_references=True)) == {}
    c = customer()
    assert patch_for(c, customer_fields(customer_snapshot(c))) == {}
    e = employee()
    assert patch_for(e, employee_fields(employee_snapshot(e))) == {}


def test_patch_holds_only_what_differs_json_ready() -> None:
    snap = project_snapshot(project()).model_copy(
        update={"name": "Nytt tak", "end_date": date(2024, 4, 1), "status": ProjectStatus.COMPLETED}
    )
    assert patch_for(project(), project_fields(snap)) == {
        "name": "Nytt tak",
        "end_date": "2024-04-01",
        "status": "completed",
    }


def test_member_order_alone_is_not_a_change() -> None:
    snap = project_snapshot(project()).model_copy(update={"member_ids": ("emp_2", "emp_1")})
    assert patch_for(project(), project_fields(snap)) == {}
    more = snap.model_copy(update={"member_ids": ("emp_2", "emp_1", "emp_3")})
    assert patch_for(project(), project_fields(more)) == {"member_ids": ["emp_2", "emp_1", "emp_3"]}


def test_none_in_the_snapshot_clears_the_field() -> None:
    snap = customer_snapshot(customer()).model_copy(update={"email": None})
    assert patch_for(customer(), customer_fields(snap)) == {"email": None}


def test_changed_snapshot_fields_name_the_svenn_fields_they_are_written_to() -> None:
    assert svenn_field_names(EntityType.PROJECT, ["number", "name"]) == {"display_id", "name"}
    assert svenn_field_names(EntityType.CUSTOMER, ["address_line", "active"]) == {"address_line1", "status"}
    assert svenn_field_names(EntityType.EMPLOYEE, ["last_name"]) == {"last_name"}
