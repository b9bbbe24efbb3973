"""Tripletex records <-> canonical snapshots: pure, both directions, named after the rules they prove."""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64encode
from datetime import date
from typing import Any

import pytest

from contracts.entities import CustomerSnapshot, EmployeeSnapshot, ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeKind, EntityType
from contracts.ids import change_event_id
from services.tripletex.client.models import Customer, Employee, Project, write_body
from services.tripletex.ingest import (
    expected_signature,
    project_source_version,
    signature_problem,
    tripletex_change_event,
    tripletex_delete_event,
)
from services.tripletex.mapping import (
    MappingError,
    apply_body,
    customer_create_body,
    customer_snapshot,
    customer_update_body,
    employee_create_body,
    employee_snapshot,
    employee_update_body,
    is_complete,
    project_create_body,
    project_snapshot,
    project_update_body,
    snapshot_of,
    version_of,
)


def project_json(**overrides: Any) -> dict[str, Any]:
    """A project as Tripletex renders it with ``PROJECT_FIELDS``."""
    record: dict[str, Any] = {
        "id": 1034,
        "version": 2,
        "name": "Bad renovation",
        "number": "2024.17",
        "startDate": "2026-01-05",
        "endDate": "",
        "isClosed": False,
        "isInternal": False,
        "mainProject": None,
        "customer": {"id": 1033},
        "participants": [{"id": 9, "employee": {"id": 1101}}, {"id": 8, "employee": {"id": 1032}}],
    }
    record.update(overrides)
    return record


def customer_json(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 1033,
        "version": 0,
        "name": "Kunde AS",
        "customerNumber": 10000,
        "organizationNumber": "999888777",
        "email": "post@kunde.no",
        "invoiceEmail": "",
        "phoneNumber": "",
        "phoneNumberMobile": "+4790000000",
        "isInactive": False,
        "invoiceSendMethod": "EHF",
        "postalAddress": {"addressLine1": "Gata 1", "addressLine2": "", "postalCode": "0150", "city": "Oslo"},
    }
    record.update(overrides)
    return record


def employee_json(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 1032,
        "version": 1,
        "firstName": "Ola",
        "lastName": "Nordmann",
        "employeeNumber": "",
        "email": "ola@x.no",
        "phoneNumberMobile": "",
    }
    record.update(overrides)
    return record


# --------------------------------------------------------------------------- projects
@pytest.mark.parametrize("number", ["2024.17", "A12.3", "007", "10"])
def test_s_p6_project_numbers_stay_strings(number: str) -> None:
    snapshot = project_snapshot(project_json(number=number))
    assert snapshot.number == number
    assert project_update_body(snapshot)["number"] == number
    assert project_create_body(snapshot, project_manager_id=1)["number"] == number


def test_project_fields_map_to_the_snapshot() -> None:
    snapshot = project_snapshot(project_json(mainProject={"id": 77}, endDate="2026-03-01"))
    assert snapshot == ProjectSnapshot(
        number="2024.17",
        name="Bad renovation",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 3, 1),
        status=ProjectStatus.ACTIVE,
        is_internal=False,
        parent_id="77",
        customer_id="1033",
        member_ids=("1032", "1101"),
    )


def test_s_p7_closed_project_is_completed() -> None:
    assert project_snapshot(project_json(isClosed=True)).status is ProjectStatus.COMPLETED


def test_s_p3_internal_flag_is_read() -> None:
    assert project_snapshot(project_json(isInternal=True)).is_internal is True


def test_s_p5_project_without_number_has_none() -> None:
    assert project_snapshot(project_json(number="")).number is None
    assert "number" not in project_update_body(project_snapshot(project_json(number="")))


def test_s_p8_participants_become_sorted_unique_member_ids() -> None:
    participants = [
        {"id": 1, "employee": {"id": 20}},
        {"id": 2, "employee": {"id": 3}},
        {"id": 3, "employee": {"id": 20}},
        {"id": 4},  # a participant rendered without its employee contributes nothing
    ]
    assert project_snapshot(project_json(participants=participants)).member_ids == ("3", "20")


def test_s_p4_update_body_never_writes_is_internal() -> None:
    for internal in (True, False):
        snapshot = project_snapshot(project_json(isInternal=internal, isClosed=True))
        body = project_update_body(snapshot, customer_id=5)
        assert "isInternal" not in body
        assert body["isClosed"] is True  # S-P7: completed -> closed
        assert body["customer"] == {"id": 5}


def test_project_update_body_never_reopens_and_never_copies_foreign_references() -> None:
    snapshot = ProjectSnapshot(
        name="X", customer_id="svenn-cus-1", parent_id="svenn-prj-1", member_ids=("a",)
    )
    body = project_update_body(snapshot)
    assert body == {"name": "X"}  # no isClosed=false, no Svenn ids, no nulls


def test_project_create_body() -> None:
    snapshot = ProjectSnapshot(number="A12.3", name="Tak", start_date=date(2026, 2, 1), is_internal=True)
    assert project_create_body(snapshot, project_manager_id=4, customer_id=9) == {
        "name": "Tak",
        "number": "A12.3",
        "projectManager": {"id": 4},
        "isInternal": True,
        "startDate": "2026-02-01",
        "customer": {"id": 9},
    }


def test_project_from_the_client_model_maps_like_json() -> None:
    model = Project.model_validate(project_json())
    assert project_snapshot(model) == project_snapshot(project_json())
    assert version_of(model) == "2"


def test_project_round_trip_through_update_body_is_stable() -> None:
    """Read from Tripletex, written back unchanged: the client's diff is empty (no echo loop)."""
    model = Project.model_validate(project_json(isClosed=True))
    before = write_body(model)
    apply_body(model, project_update_body(project_snapshot(model), customer_id=1033))
    assert write_body(model) == before


# --------------------------------------------------------------------------- customers
def test_customer_fields_map_to_the_snapshot() -> None:
    assert customer_snapshot(customer_json()) == CustomerSnapshot(
        customer_number="10000",
        name="Kunde AS",
        organization_number="999888777",
        email="post@kunde.no",
        phone="+4790000000",
        address_line="Gata 1",
        postal_code="0150",
        city="Oslo",
        active=True,
        invoice_send_method="EHF",
    )


def test_s_c5_inactive_customer_is_not_active() -> None:
    assert customer_snapshot(customer_json(isInactive=True)).active is False


def test_customer_blank_texts_become_none() -> None:
    snapshot = customer_snapshot(
        customer_json(organizationNumber="", email="", phoneNumberMobile="", postalAddress=None)
    )
    assert (snapshot.organization_number, snapshot.email, snapshot.phone, snapshot.address_line) == (
        None,
        None,
        None,
        None,
    )


def test_s_c4_customer_created_from_svenn_gets_email_invoices() -> None:
    body = customer_create_body(CustomerSnapshot(customer_number="42", name="Ny AS", email="a@b.no"))
    assert body["invoiceSendMethod"] == "EMAIL"
    assert body["invoiceEmail"] == "a@b.no"
    assert body["customerNumber"] == 42


def test_customer_invoice_send_method_comes_from_the_snapshot() -> None:
    snapshot = CustomerSnapshot(name="Ny AS", invoice_send_method="EHF")
    assert customer_create_body(snapshot)["invoiceSendMethod"] == "EHF"
    assert customer_update_body(snapshot)["invoiceSendMethod"] == "EHF"
    assert "invoiceSendMethod" not in customer_update_body(CustomerSnapshot(name="Ny AS"))


def test_s_c3_update_body_never_deactivates_but_activates() -> None:
    assert "isInactive" not in customer_update_body(CustomerSnapshot(name="X", active=False))
    assert customer_update_body(CustomerSnapshot(name="X", active=True))["isInactive"] is False


def test_s_c1_non_numeric_customer_number_is_not_written() -> None:
    with pytest.raises(MappingError, match="S-C1"):
        customer_create_body(CustomerSnapshot(customer_number="K-12", name="X"))


def test_customer_number_is_a_string_in_the_snapshot_from_model_and_json() -> None:
    assert customer_snapshot(Customer.model_validate(customer_json())).customer_number == "10000"
    assert customer_snapshot(customer_json(customerNumber=7)).customer_number == "7"


def test_customer_round_trip_through_update_body_is_stable() -> None:
    model = Customer.model_validate(
        customer_json(postalAddress={**customer_json()["postalAddress"], "id": 5})
    )
    before = write_body(model)
    apply_body(model, customer_update_body(customer_snapshot(model), current=model))
    assert write_body(model) == before  # nothing to send: the address keeps its id and line 2


def test_apply_body_changes_only_what_differs() -> None:
    model = Customer.model_validate(customer_json())
    apply_body(model, customer_update_body(CustomerSnapshot(name="Nytt navn AS", city="Bergen")))
    body = write_body(model)
    assert body["name"] == "Nytt navn AS"
    assert body["postalAddress"]["city"] == "Bergen"
    assert body["postalAddress"]["addressLine1"] == "Gata 1"


def test_customer_phone_from_mobile_is_written_to_phone_number_without_the_current_record() -> None:
    snapshot = customer_snapshot(customer_json())
    assert customer_update_body(snapshot)["phoneNumber"] == "+4790000000"
    assert "phoneNumber" not in customer_update_body(snapshot, current=customer_json())


# --------------------------------------------------------------------------- employees
def test_s_e2_employee_without_number_has_none() -> None:
    snapshot = employee_snapshot(employee_json())
    assert snapshot == EmployeeSnapshot(
        employee_number=None, first_name="Ola", last_name="Nordmann", email="ola@x.no", active=True
    )
    assert "employeeNumber" not in employee_update_body(snapshot)


@pytest.mark.parametrize("number", ["007", "A-3", "12"])
def test_employee_numbers_stay_strings(number: str) -> None:
    snapshot = employee_snapshot(employee_json(employeeNumber=number, phoneNumberMobile="900"))
    assert snapshot.employee_number == number
    assert snapshot.phone == "900"
    assert employee_update_body(snapshot)["employeeNumber"] == number


def test_s_e3_tripletex_employees_are_always_active() -> None:
    assert employee_snapshot(Employee.model_validate(employee_json())).active is True


def test_s_e1_employee_create_needs_a_last_name() -> None:
    with pytest.raises(MappingError, match="S-E1"):
        employee_create_body(EmployeeSnapshot(first_name="Kari"))
    body = employee_create_body(EmployeeSnapshot(first_name="Kari", last_name="N"), department_id=3)
    assert body == {"firstName": "Kari", "lastName": "N", "userType": "NO_ACCESS", "department": {"id": 3}}


# --------------------------------------------------------------------------- completeness, events
def test_a_default_webhook_value_is_incomplete() -> None:
    """Without our ``fields`` Tripletex renders participants as ``{id, url}``: fetch instead."""
    assert is_complete(EntityType.PROJECT, project_json())
    assert not is_complete(EntityType.PROJECT, project_json(participants=[{"id": 9, "url": "x"}]))
    assert not is_complete(EntityType.PROJECT, {"id": 1, "version": 0, "name": "P"})
    assert not is_complete(EntityType.CUSTOMER, customer_json(postalAddress={"id": 4, "url": "x"}))
    assert is_complete(EntityType.CUSTOMER, customer_json(postalAddress=None))
    assert is_complete(EntityType.EMPLOYEE, employee_json())


def test_missing_name_is_a_mapping_error() -> None:
    with pytest.raises(MappingError):
        snapshot_of(EntityType.PROJECT, {"id": 1, "version": 0})


def test_same_record_version_gives_the_same_event_id() -> None:
    first = tripletex_change_event("t-1", EntityType.EMPLOYEE, employee_json(), ChangeKind.CREATED)
    again = tripletex_change_event("t-1", EntityType.EMPLOYEE, employee_json(), ChangeKind.UPDATED)
    newer = tripletex_change_event("t-1", EntityType.EMPLOYEE, employee_json(version=2), ChangeKind.UPDATED)
    assert first.event_id == again.event_id == change_event_id("t-1", "tripletex", "employee", "1032", "1")
    assert newer.event_id != first.event_id
    assert first.entity_id == "1032"
    assert first.source_version == "1"
    assert first.correlation_id == first.event_id


def test_s_p8_project_source_version_covers_its_participants() -> None:
    """Adding a participant leaves the project's version alone, but must still be news."""
    first = tripletex_change_event("t-1", EntityType.PROJECT, project_json(), ChangeKind.CREATED)
    again = tripletex_change_event("t-1", EntityType.PROJECT, project_json(), ChangeKind.UPDATED)
    reordered = project_json(participants=list(reversed(project_json()["participants"])))
    same_set = tripletex_change_event("t-1", EntityType.PROJECT, reordered, ChangeKind.UPDATED)
    more = project_json(participants=[*project_json()["participants"], {"id": 10, "employee": {"id": 5}}])
    joined = tripletex_change_event("t-1", EntityType.PROJECT, more, ChangeKind.UPDATED)
    assert first.event_id == again.event_id == same_set.event_id
    assert first.source_version == project_source_version("2", ("1032", "1101"))
    assert first.source_version is not None and first.source_version.startswith("2+p")
    assert first.event_id == change_event_id("t-1", "tripletex", "project", "1034", first.source_version)
    assert joined.event_id != first.event_id


def test_delete_event_has_no_snapshot_and_a_stable_id() -> None:
    one = tripletex_delete_event("t-1", EntityType.CUSTOMER, "1033")
    two = tripletex_delete_event("t-1", EntityType.CUSTOMER, "1033")
    assert one.snapshot is None and one.change_kind is ChangeKind.DELETED
    assert one.event_id == two.event_id == change_event_id("t-1", "tripletex", "customer", "1033", "deleted")


def test_signature_is_tripletex_hmac_sha512_over_key_and_body() -> None:
    body = b'{"event":"project.create","id":1}'
    mac = hmac.new(b"s3cret", b"key-1&" + body, hashlib.sha512).digest()
    assert expected_signature("s3cret", "key-1", body) == b64encode(mac).decode()
    assert signature_problem("s3cret", body, "key-1", b64encode(mac).decode()) is None
    assert signature_problem("s3cret", body + b" ", "key-1", b64encode(mac).decode()) is not None
    assert signature_problem("s3cret", body, None, b64encode(mac).decode()) is not None
    assert signature_problem("s3cret", body, "key-1", None) is not None
