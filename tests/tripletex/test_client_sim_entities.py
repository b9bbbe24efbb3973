"""Client <-> simulator, per entity: find-before-create on natural keys and guarded writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.tripletex.client import TripletexClient
from services.tripletex.client.models import (
    Activity,
    Customer,
    Employee,
    Posting,
    Project,
    ProjectHourlyRate,
    Ref,
    TimesheetEntry,
    Voucher,
)

from .conftest import (
    ClientRecordingTransport,
    ClientVirtualTime,
    client_make_sim_client,
    client_query_problems,
    client_schema_problems,
)


class LoseFirstAnswer(httpx.AsyncBaseTransport):
    """Lets the first matching request reach the server, then drops its answer (a timeout)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path: str) -> None:
        self.inner, self.method, self.path = inner, method, path
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == self.method and request.url.path == self.path and not self.dropped:
            self.dropped += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture(autouse=True)
def _client_requests_match_the_spec(client_sim_transport: ClientRecordingTransport) -> Iterator[None]:
    """After each test: every body and query sent to the simulator is valid per the subset."""
    yield
    problems = client_schema_problems(client_sim_transport.sent)
    problems += client_query_problems(client_sim_transport.requests)
    assert problems == []


async def _manager(client: TripletexClient) -> int:
    me = await client.who_am_i()
    assert me.employee_id is not None
    return me.employee_id


def _project(number: str, manager: int, *, is_internal: bool = False) -> Project:
    return Project(
        name=f"Prosjekt {number}",
        number=number,
        project_manager=Ref.to(manager),
        start_date=dt.date(2026, 11, 1),
        is_internal=is_internal,
    )


def _rows(app: Any, company: dict[str, Any], schema: str) -> list[dict[str, Any]]:
    return list(app.state.simulator.companies[company["id"]].table(schema).values())


# --- projects -------------------------------------------------------------------------------------


async def test_project_find_before_create_links_existing_closed_and_internal(
    client_sim: TripletexClient, client_sim_app: Any, client_sim_company: dict[str, Any]
) -> None:
    manager = await _manager(client_sim)
    first = await client_sim.projects.ensure(_project("2024.17", manager))
    assert first.created and first.record.number == "2024.17"
    assert first.record.id is not None
    await client_sim.projects.close(first.record.id)
    internal = await client_sim.projects.ensure(_project("A12.3", manager, is_internal=True))

    again = await client_sim.projects.ensure(_project("2024.17", manager))
    assert not again.created and again.record.id == first.record.id and again.record.is_closed
    linked = await client_sim.projects.ensure(_project("A12.3", manager))
    assert not linked.created and linked.record.is_internal and linked.record.id == internal.record.id
    assert await client_sim.projects.by_number("2024.1") is None  # exact match, not prefix or float
    numbers = sorted(p["number"] for p in _rows(client_sim_app, client_sim_company, "Project"))
    assert numbers == ["2024.17", "A12.3"]


async def test_project_create_with_lost_answer_is_found_not_duplicated(
    client_sim_app: Any, client_sim_company: dict[str, Any], client_time: ClientVirtualTime
) -> None:
    lossy = LoseFirstAnswer(httpx.ASGITransport(app=client_sim_app), "POST", "/v2/project")
    async with client_make_sim_client(lossy, client_sim_company, client_time) as client:
        manager = await _manager(client)
        ensured = await client.projects.ensure(_project("T-1", manager))
    assert lossy.dropped == 1
    assert ensured.recovered and not ensured.created
    assert [p["number"] for p in _rows(client_sim_app, client_sim_company, "Project")] == ["T-1"]


async def test_participants_added_once_and_removed(
    client_sim: TripletexClient, client_sim_transport: ClientRecordingTransport
) -> None:
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("P-1", manager))).record
    employee = (
        await client_sim.employees.ensure(
            Employee(
                first_name="Kari",
                last_name="Nord",
                employee_number="501",
                email="kari@ex.no",
                user_type="STANDARD",
            )
        )
    ).record
    assert project.id is not None and employee.id is not None
    added = await client_sim.projects.add_participants(project.id, [manager, employee.id])
    again = await client_sim.projects.add_participants(project.id, [employee.id, manager])
    assert {p.employee.id for p in added if p.employee} == {manager, employee.id}
    assert {p.id for p in again} == {p.id for p in added}
    assert client_sim_transport.count("POST", "/v2/project/participant/list") == 1
    await client_sim.projects.remove_participants(
        [p.id for p in added if p.id and p.employee and p.employee.id == employee.id]
    )
    assert [p.employee.id for p in await client_sim.projects.participants(project.id) if p.employee] == [
        manager
    ]


async def test_activity_linked_to_project_once(client_sim: TripletexClient) -> None:
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("L-1", manager))).record
    activity = (
        await client_sim.activities.ensure(
            Activity(name="Montering", number="M1", activity_type="PROJECT_GENERAL_ACTIVITY")
        )
    ).record
    assert project.id is not None and activity.id is not None
    first = await client_sim.projects.link_activity(project.id, activity.id)
    second = await client_sim.projects.link_activity(project.id, activity.id)
    assert first.created and not second.created
    assert len(await client_sim.projects.project_activities(project.id)) == 1
    loggable = await client_sim.activities.for_timesheet(
        project.id, employee_id=manager, date=dt.date(2026, 11, 2)
    )
    assert activity.id in {a.id for a in loggable}


async def test_hourly_rate_found_by_project_and_start_date(client_sim: TripletexClient) -> None:
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("H-1", manager))).record
    assert project.id is not None
    rate = ProjectHourlyRate(
        project=Ref.to(project.id),
        start_date=dt.date(2026, 11, 1),
        hourly_rate_model="TYPE_FIXED_HOURLY_RATE",
        fixed_rate=Decimal("950"),
    )
    first = await client_sim.hourly_rates.ensure(rate)
    second = await client_sim.hourly_rates.ensure(rate)
    assert first.created and not second.created and first.record.id == second.record.id


# --- customers, employees, activities ------------------------------------------------------------


async def test_customer_lookup_includes_inactive(
    client_sim: TripletexClient, client_sim_app: Any, client_sim_company: dict[str, Any]
) -> None:
    created = (
        await client_sim.customers.ensure(
            Customer(
                name="Gammel Kunde",
                customer_number=5001,
                invoice_send_method="EMAIL",
                email="k@ex.no",
                invoice_email="k@ex.no",
            )
        )
    ).record
    assert created.id is not None
    await client_sim.customers.update(created.id, lambda c: setattr(c, "is_inactive", True))
    again = await client_sim.customers.ensure(Customer(name="Gammel Kunde", customer_number=5001))
    assert not again.created and again.record.id == created.id and again.record.is_inactive
    await client_sim.customers.update(created.id, lambda c: setattr(c, "organization_number", "987654321"))
    assert [c.id for c in await client_sim.customers.by_organization_number("987654321")] == [created.id]
    assert len(_rows(client_sim_app, client_sim_company, "Customer")) == 1


async def test_employee_found_by_number_then_exact_email(client_sim: TripletexClient) -> None:
    kola = (
        await client_sim.employees.ensure(
            Employee(first_name="Kola", last_name="Berg", email="kola@ex.no", user_type="STANDARD")
        )
    ).record
    assert await client_sim.employees.by_email("ola@ex.no") is None  # "Containing" would match kola@
    ola = (
        await client_sim.employees.ensure(
            Employee(
                first_name="Ola",
                last_name="Berg",
                employee_number="901",
                email="ola@ex.no",
                user_type="STANDARD",
            )
        )
    ).record
    assert ola.id != kola.id
    by_number = await client_sim.employees.ensure(
        Employee(first_name="Ola", last_name="Berg", employee_number="901")
    )
    by_email = await client_sim.employees.ensure(
        Employee(first_name="Ola", last_name="Berg", email="OLA@ex.no")
    )
    assert by_number.record.id == by_email.record.id == ola.id
    assert not by_number.created and not by_email.created


async def test_activity_found_by_number_or_exact_name(client_sim: TripletexClient) -> None:
    numbered = await client_sim.activities.ensure(
        Activity(name="Timepris 1", number="R1", activity_type="GENERAL_ACTIVITY")
    )
    named = await client_sim.activities.ensure(Activity(name="Reise", activity_type="GENERAL_ACTIVITY"))
    assert numbered.created and named.created
    assert not (
        await client_sim.activities.ensure(
            Activity(name="Annet navn", number="R1", activity_type="GENERAL_ACTIVITY")
        )
    ).created
    assert not (
        await client_sim.activities.ensure(Activity(name="Reise", activity_type="GENERAL_ACTIVITY"))
    ).created
    assert await client_sim.activities.by_name("Reis") is None


# --- timesheet ------------------------------------------------------------------------------------


async def _timesheet_setup(client: TripletexClient) -> tuple[int, int, int]:
    manager = await _manager(client)
    project = (await client.projects.ensure(_project("TS-1", manager))).record
    activity = (
        await client.activities.ensure(
            Activity(name="Arbeid", number="W1", activity_type="PROJECT_GENERAL_ACTIVITY")
        )
    ).record
    assert project.id is not None and activity.id is not None
    await client.projects.link_activity(project.id, activity.id)
    return manager, project.id, activity.id


def _entry(employee: int, project: int, activity: int, day: int, hours: str) -> TimesheetEntry:
    return TimesheetEntry(
        employee=Ref.to(employee),
        project=Ref.to(project),
        activity=Ref.to(activity),
        date=dt.date(2026, 11, day),
        hours=Decimal(hours),
    )


async def test_exporting_the_same_hours_twice_does_not_double_them(
    client_sim: TripletexClient, client_sim_app: Any, client_sim_company: dict[str, Any]
) -> None:
    employee, project, activity = await _timesheet_setup(client_sim)
    period = [_entry(employee, project, activity, day, "7.5") for day in (2, 3, 4)]
    first = await client_sim.timesheet.sync(period)
    second = await client_sim.timesheet.sync(period)
    assert len(first.created) == 3 and not first.updated
    assert not second.created and not second.updated and len(second.unchanged) == 3
    changed = [_entry(employee, project, activity, 3, "5")]
    third = await client_sim.timesheet.sync(changed)
    assert len(third.updated) == 1 and third.updated[0].hours == Decimal("5")
    rows = _rows(client_sim_app, client_sim_company, "TimesheetEntry")
    assert sorted(float(r["hours"]) for r in rows) == [5.0, 7.5, 7.5]
    assert all(r["project"] and r["activity"] for r in rows)  # the PUT nulled nothing


async def test_locked_entries_are_reported_not_overwritten(
    client_sim: TripletexClient, client_sim_admin: httpx.AsyncClient, client_sim_company: dict[str, Any]
) -> None:
    employee, project, activity = await _timesheet_setup(client_sim)
    created = (await client_sim.timesheet.sync([_entry(employee, project, activity, 9, "8")])).created[0]
    response = await client_sim_admin.put(
        f"/_sim/companies/{client_sim_company['id']}/timesheet/{created.id}/lock"
    )
    assert response.status_code == 200
    result = await client_sim.timesheet.sync([_entry(employee, project, activity, 9, "6")])
    assert [e.id for e in result.locked] == [created.id] and not result.updated


async def test_single_entry_ensure_and_update_keep_the_key(client_sim: TripletexClient) -> None:
    employee, project, activity = await _timesheet_setup(client_sim)
    entry = _entry(employee, project, activity, 16, "4")
    first = await client_sim.timesheet.ensure(entry)
    second = await client_sim.timesheet.ensure(entry)
    assert first.created and not second.created
    assert first.record.id is not None
    updated = await client_sim.timesheet.update(first.record.id, lambda e: setattr(e, "comment", "rettet"))
    assert updated.comment == "rettet" and updated.hours == Decimal("4")
    assert updated.natural_key() == entry.natural_key()


# --- ledger and payments --------------------------------------------------------------------------


async def _invoice_voucher(client: TripletexClient, external: str, customer_id: int) -> Voucher:
    accounts = await client.ledger.accounts([1500, 3000])
    vat = await client.ledger.vat_type("3")
    assert vat is not None and vat.id is not None
    return Voucher(
        date=dt.date(2026, 11, 20),
        description=f"Faktura {external}",
        external_voucher_number=external,
        postings=[
            Posting(
                row=1,
                account=Ref.to(accounts[1500].id or 0),
                customer=Ref.to(customer_id),
                amount_gross=Decimal("1250.00"),
                amount_gross_currency=Decimal("1250.00"),
                invoice_number="10001",
                term_of_payment=dt.date(2026, 12, 4),
            ),
            Posting(
                row=2,
                account=Ref.to(accounts[3000].id or 0),
                vat_type=Ref.to(vat.id),
                amount_gross=Decimal("-1250.00"),
                amount_gross_currency=Decimal("-1250.00"),
            ),
        ],
    )


async def test_invoice_voucher_created_once_with_one_pdf(
    client_sim: TripletexClient,
    client_sim_transport: ClientRecordingTransport,
    client_sim_app: Any,
    client_sim_company: dict[str, Any],
) -> None:
    customer = (await client_sim.customers.ensure(Customer(name="Bilagskunde", customer_number=7001))).record
    assert customer.id is not None
    voucher = await _invoice_voucher(client_sim, "drifti-inv-10001", customer.id)
    first = await client_sim.ledger.ensure_voucher(voucher)
    second = await client_sim.ledger.ensure_voucher(voucher)
    assert first.created and not second.created and first.record.id == second.record.id
    assert first.record.id is not None
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    up1 = await client_sim.ledger.upload_attachment_once(first.record.id, "faktura-10001.pdf", pdf)
    up2 = await client_sim.ledger.upload_attachment_once(first.record.id, "faktura-10001.pdf", pdf)
    assert up1.uploaded and not up2.uploaded
    assert client_sim_transport.count("POST", f"/v2/ledger/voucher/{first.record.id}/attachment") == 1
    assert len(_rows(client_sim_app, client_sim_company, "Voucher")) == 1


async def test_invoice_payment_registered_once(
    client_sim: TripletexClient, client_sim_admin: httpx.AsyncClient, client_sim_company: dict[str, Any]
) -> None:
    customer = (await client_sim.customers.ensure(Customer(name="Betaler", customer_number=7101))).record
    response = await client_sim_admin.post(
        f"/_sim/companies/{client_sim_company['id']}/invoices",
        json={"customerId": customer.id, "amount": 1000},
    )
    assert response.status_code == 201, response.text
    invoice_id = response.json()["id"]
    payment_type = (await client_sim.invoices.payment_types())[0]
    assert payment_type.id is not None
    kwargs: dict[str, Any] = {
        "payment_date": dt.date(2026, 11, 21),
        "payment_type_id": payment_type.id,
        "paid_amount": Decimal("400"),
        "outstanding_before": Decimal("1000"),
    }
    first = await client_sim.invoices.register_payment_once(invoice_id, **kwargs)
    second = await client_sim.invoices.register_payment_once(invoice_id, **kwargs)
    assert first.registered and not second.registered
    invoice = await client_sim.invoices.get(invoice_id)
    assert invoice.amount_outstanding == Decimal("600")


async def test_payment_of_a_voucher_invoice_is_a_voucher_and_closes_the_receivable(
    client_sim: TripletexClient,
) -> None:
    """D-P1 for invoices booked as vouchers: no invoice id, so the payment is a voucher too."""
    customer = (await client_sim.customers.ensure(Customer(name="Voucherkunde", customer_number=7201))).record
    assert customer.id is not None
    invoice = (
        await client_sim.ledger.ensure_voucher(
            await _invoice_voucher(client_sim, "drifti-inv-7201", customer.id)
        )
    ).record
    accounts = await client_sim.ledger.accounts([1500, 1920])
    payment = Voucher(
        date=dt.date(2026, 11, 25),
        description="Innbetaling faktura 10001",
        external_voucher_number="drifti-pay-7201-1",
        postings=[
            Posting(row=1, account=Ref.to(accounts[1920].id or 0), amount_gross=Decimal("1250.00")),
            Posting(
                row=2,
                account=Ref.to(accounts[1500].id or 0),
                customer=Ref.to(customer.id),
                invoice_number="10001",
                amount_gross=Decimal("-1250.00"),
            ),
        ],
    )
    first = await client_sim.ledger.ensure_voucher(payment)
    again = await client_sim.ledger.ensure_voucher(payment)
    assert first.created and not again.created
    receivable = [
        p
        async for p in client_sim.ledger.iterate_postings(
            dt.date(2026, 11, 1),
            dt.date(2026, 12, 1),
            customerId=customer.id,
            accountId=accounts[1500].id or 0,
        )
    ]
    assert len(receivable) == 2 and invoice.id is not None
    problems = await client_sim.ledger.close_postings([p.id for p in receivable if p.id is not None])
    assert problems == []


async def test_lost_answers_on_payment_and_upload_are_resolved_by_looking(
    client_sim_app: Any,
    client_sim_admin: httpx.AsyncClient,
    client_sim_company: dict[str, Any],
    client_time: ClientVirtualTime,
) -> None:
    """The call reached Tripletex, the answer did not: a blind retry would pay or attach twice."""
    async with client_make_sim_client(
        httpx.ASGITransport(app=client_sim_app), client_sim_company, client_time
    ) as setup:
        customer = (await setup.customers.ensure(Customer(name="Tapt svar", customer_number=7301))).record
        voucher = (
            await setup.ledger.ensure_voucher(
                await _invoice_voucher(setup, "drifti-inv-7301", customer.id or 0)
            )
        ).record
        payment_type = (await setup.invoices.payment_types())[0]
    response = await client_sim_admin.post(
        f"/_sim/companies/{client_sim_company['id']}/invoices",
        json={"customerId": customer.id, "amount": 800},
    )
    invoice_id = response.json()["id"]

    pay_path = f"/v2/invoice/{invoice_id}/:payment"
    lossy_pay = LoseFirstAnswer(httpx.ASGITransport(app=client_sim_app), "PUT", pay_path)
    async with client_make_sim_client(lossy_pay, client_sim_company, client_time) as client:
        outcome = await client.invoices.register_payment_once(
            invoice_id,
            payment_date=dt.date(2026, 11, 26),
            payment_type_id=payment_type.id or 0,
            paid_amount=Decimal("800"),
        )
        assert lossy_pay.dropped == 1 and not outcome.registered and outcome.recovered
        assert (await client.invoices.get(invoice_id)).amount_outstanding == Decimal("0")

    upload_path = f"/v2/ledger/voucher/{voucher.id}/attachment"
    lossy_upload = LoseFirstAnswer(httpx.ASGITransport(app=client_sim_app), "POST", upload_path)
    async with client_make_sim_client(lossy_upload, client_sim_company, client_time) as client:
        result = await client.ledger.upload_attachment_once(voucher.id or 0, "f.pdf", b"%PDF-1.4\n%%EOF\n")
        assert lossy_upload.dropped == 1 and result.recovered and not result.uploaded
    documents = _rows(client_sim_app, client_sim_company, "Document")
    assert len(documents) == 1
    files = client_sim_app.state.simulator.companies[client_sim_company["id"]].files
    assert list(files.values()) == [b"%PDF-1.4\n%%EOF\n"]  # one upload, no appended copy


async def test_create_race_reported_as_422_links_the_winner(
    client_sim: TripletexClient,
    client_sim_transport: ClientRecordingTransport,
    client_sim_app: Any,
    client_sim_company: dict[str, Any],
    client_time: ClientVirtualTime,
) -> None:
    """Another writer creates the same number between our look and our create."""
    manager = await _manager(client_sim)
    other = client_make_sim_client(httpx.ASGITransport(app=client_sim_app), client_sim_company, client_time)

    async def competitor(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/v2/project" and client_sim_transport.before:
            client_sim_transport.before = None
            await other.projects.create(_project("RACE-1", manager))

    client_sim_transport.before = competitor
    ensured = await client_sim.projects.ensure(_project("RACE-1", manager))
    assert ensured.recovered and not ensured.created
    assert [p["number"] for p in _rows(client_sim_app, client_sim_company, "Project")] == ["RACE-1"]
    await other.aclose()


async def test_timesheet_batch_race_writes_only_what_is_missing(
    client_sim: TripletexClient,
    client_sim_transport: ClientRecordingTransport,
    client_sim_app: Any,
    client_sim_company: dict[str, Any],
    client_time: ClientVirtualTime,
) -> None:
    employee, project, activity = await _timesheet_setup(client_sim)
    period = [_entry(employee, project, activity, day, "6") for day in (23, 24, 25)]
    other = client_make_sim_client(httpx.ASGITransport(app=client_sim_app), client_sim_company, client_time)

    async def competitor(request: httpx.Request) -> None:
        if request.url.path == "/v2/timesheet/entry/list" and client_sim_transport.before:
            client_sim_transport.before = None
            await other.timesheet.create(period[1])

    client_sim_transport.before = competitor
    result = await client_sim.timesheet.sync(period)
    rows = _rows(client_sim_app, client_sim_company, "TimesheetEntry")
    assert sorted(r["date"] for r in rows) == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert len(result.created) + len(result.unchanged) == 3
    await other.aclose()


async def test_generated_numbers_written_back(client_sim: TripletexClient) -> None:
    """S-E2 / S-P5: the engine numbers an unnumbered record and writes the number back."""
    employee = (
        await client_sim.employees.ensure(
            Employee(first_name="Uten", last_name="Nummer", email="uten@ex.no", user_type="STANDARD")
        )
    ).record
    assert employee.id is not None and not employee.employee_number
    updated = await client_sim.employees.update(
        employee.id, lambda e: setattr(e, "employee_number", "E-1001")
    )
    assert updated.employee_number == "E-1001"
    assert (await client_sim.employees.by_number("E-1001")) is not None
    manager = await _manager(client_sim)
    project = await client_sim.projects.create(
        Project(
            name="Uten nummer",
            project_manager=Ref.to(manager),
            start_date=dt.date(2026, 11, 1),
            is_internal=False,
        )
    )
    assert project.id is not None
    renumbered = await client_sim.projects.update(project.id, lambda p: setattr(p, "number", "2026.5"))
    assert renumbered.number == "2026.5" and (await client_sim.projects.by_number("2026.5")) is not None
