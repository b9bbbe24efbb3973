"""The Tripletex writer's operations against the simulator, in-process (no Kafka, no sockets).

Named after the rules they prove. The Kafka + PostgreSQL path is in
``tests/integration/test_tripletex_writer.py``; here each edge (a lost answer to a create, a
version conflict, a 404, a number taken in Svenn) is provoked exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from contracts.entities import (
    CustomerSnapshot,
    EmployeeSnapshot,
    EntitySnapshot,
    ProjectSnapshot,
    ProjectStatus,
)
from contracts.envelope import (
    Command,
    EntityType,
    ExpectedLink,
    LinkState,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
)
from contracts.error_codes import MATCH_AMBIGUOUS, WRITE_CONFLICT, WRITE_REJECTED
from services.core.errors import TransientError
from services.svenn.client import CustomerCreate, EmployeeCreate, ProjectCreate
from services.svenn.simulator.testing import running_sim
from services.tripletex.client import ClientSettings, LimiterRegistry, RetryPolicy, TripletexClient
from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import Company, SimulatorState
from services.tripletex.writer_numbers import NoFreeNumber, first_candidate, free_number
from services.tripletex.writer_ops import TenantTarget, apply_command

BASE_URL = "http://tripletex.test/v2"
FAST = ClientSettings(
    retry=RetryPolicy(
        max_attempts=3,
        rate_limit_base_seconds=0.001,
        rate_limit_cap_seconds=0.002,
        server_error_base_seconds=0.001,
        server_error_cap_seconds=0.002,
    )
)
START = date(2026, 1, 5)


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


class WriterTransport(httpx.AsyncBaseTransport):
    """Forwards to the simulator; a test can drop an answer after the request ran, or act first."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[tuple[str, str]] = []
        self.lose_answer_to: set[tuple[str, str]] = set()
        self.before: Callable[[httpx.Request], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        self.requests.append(key)
        if self.before is not None:
            await self.before(request)
        response = await self.inner.handle_async_request(request)
        if key in self.lose_answer_to:
            self.lose_answer_to.discard(key)
            await response.aread()
            raise httpx.ReadTimeout("answer lost after the server applied the write", request=request)
        return response

    def count(self, method: str, path: str) -> int:
        return self.requests.count((method, "/v2" + path))


@dataclass
class Setup:
    state: SimulatorState
    company: Company
    transport: WriterTransport
    target: TenantTarget
    tenant_id: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")

    def rows(self, schema: str) -> list[dict[str, Any]]:
        return list(self.company.table(schema).values())

    def insert(self, schema: str, row: dict[str, Any]) -> dict[str, Any]:
        return self.state.insert(self.company, schema, row)


@pytest.fixture
async def writer_setup() -> AsyncIterator[Setup]:
    state = SimulatorState(rng_seed=11)
    company = state.create_company("Writer AS")
    transport = WriterTransport(create_app(state))
    client = TripletexClient(
        BASE_URL,
        "tenant-writer",
        consumer_token=company.consumer_token,
        employee_token=company.employee_token,
        settings=FAST,
        transport=transport,
        limiters=LimiterRegistry(FAST.limiter, sleep=_no_wait),
        sleep=_no_wait,
        rand=lambda: 0.5,
    )
    target = TenantTarget(tenant_id="tenant-writer", tripletex=client)
    try:
        yield Setup(state, company, transport, target)
    finally:
        await client.aclose()


def command(
    operation: Operation,
    payload: EntitySnapshot | None,
    *,
    entity_type: EntityType | None = None,
    source: SourceSystem = SourceSystem.SVENN,
    source_entity_id: str = "svenn-1",
    linked_to: str | None = None,
    rule_id: str = "S-P4",
) -> Command:
    kind = entity_type or EntityType(payload.kind if payload is not None else "project")
    return Command(
        tenant_id="tenant-writer",
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=source,
        target=SourceSystem.TRIPLETEX,
        operation=operation,
        entity_type=kind,
        source_entity_id=source_entity_id,
        payload=payload,
        expected_link=ExpectedLink(
            state=LinkState.LINKED if linked_to else LinkState.ABSENT, target_entity_id=linked_to
        ),
        rule_id=rule_id,
    )


def project(number: str | None = "2024.17", **kw: Any) -> ProjectSnapshot:
    return ProjectSnapshot(number=number, name=kw.pop("name", "Bad renovation"), start_date=START, **kw)


async def apply(setup: Setup, cmd: Command) -> Outcome:
    return await apply_command(cmd, setup.target)


# --------------------------------------------------------------------------- S-P4 create-or-link
async def test_S_P4_create_then_a_redelivered_command_finds_it_and_creates_nothing(
    writer_setup: Setup,
) -> None:
    cmd = command(Operation.CREATE, project())
    first = await apply(writer_setup, cmd)
    second = await apply(writer_setup, cmd)

    (created,) = [p for p in writer_setup.rows("Project") if p["number"] == "2024.17"]
    assert (first.status, first.target_entity_id) == (OutcomeStatus.APPLIED, str(created["id"]))
    assert (second.status, second.target_entity_id) == (OutcomeStatus.APPLIED, str(created["id"]))
    assert "created" in (first.reason or "")
    assert "matched" in (second.reason or "") and "nothing written" in (second.reason or "")
    assert created["isInternal"] is False and created["startDate"] == "2026-01-05"
    assert created["projectManager"]["id"] == writer_setup.company.api_employee_id
    assert writer_setup.transport.count("POST", "/project") == 1


async def test_S_P4_a_create_whose_answer_is_lost_is_resolved_by_looking_not_by_posting_again(
    writer_setup: Setup,
) -> None:
    writer_setup.transport.lose_answer_to.add(("POST", "/v2/project"))
    outcome = await apply(writer_setup, command(Operation.CREATE, project()))

    (created,) = [p for p in writer_setup.rows("Project") if p["number"] == "2024.17"]
    assert outcome.status is OutcomeStatus.APPLIED
    assert outcome.target_entity_id == str(created["id"])
    assert writer_setup.transport.count("POST", "/project") == 1


async def test_S_P4_an_internal_closed_project_with_the_number_is_linked_and_stays_internal(
    writer_setup: Setup,
) -> None:
    existing = writer_setup.insert(
        "Project",
        {
            "name": "Old name",
            "number": "A12.3",
            "startDate": "2025-01-01",
            "isInternal": True,
            "isClosed": True,
            "projectManager": {"id": writer_setup.company.api_employee_id},
        },
    )
    outcome = await apply(writer_setup, command(Operation.CREATE, project("A12.3", name="New name")))

    assert outcome.status is OutcomeStatus.APPLIED
    assert outcome.target_entity_id == str(existing["id"])
    assert "matched" in (outcome.reason or "") and "stays internal" in (outcome.reason or "")
    assert len([p for p in writer_setup.rows("Project") if p["number"] == "A12.3"]) == 1
    assert existing["isInternal"] is True  # S-P4: never changed
    assert existing["isClosed"] is True  # no rule reopens
    # Tripletex wins at link time: the record existed on both sides, so Tripletex keeps its values.
    assert existing["name"] == "Old name" and existing["startDate"] == "2025-01-01"


async def test_S_P4_a_project_without_number_is_not_created_blindly(writer_setup: Setup) -> None:
    outcome = await apply(writer_setup, command(Operation.CREATE, project(None)))
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, WRITE_REJECTED)
    assert "no number" in (outcome.error_message or "")


# --------------------------------------------------------------------------- customers
def customer(number: str = "5001", **kw: Any) -> CustomerSnapshot:
    return CustomerSnapshot(
        customer_number=number, name=kw.pop("name", "Kunde AS"), email="faktura@kunde.no", **kw
    )


async def test_S_C4_a_new_customer_is_created_with_invoices_by_email(writer_setup: Setup) -> None:
    payload = customer(invoice_send_method="EMAIL", address_line="Gata 1", postal_code="0150", city="Oslo")
    outcome = await apply(writer_setup, command(Operation.CREATE, payload, rule_id="S-C4"))
    (row,) = [c for c in writer_setup.rows("Customer") if c["customerNumber"] == 5001]
    assert outcome.status is OutcomeStatus.APPLIED and outcome.target_entity_id == str(row["id"])
    assert row["invoiceSendMethod"] == "EMAIL" and row["invoiceEmail"] == "faktura@kunde.no"

    again = await apply(writer_setup, command(Operation.UPDATE, payload, linked_to=str(row["id"])))
    assert again.reason == "already up to date (nothing written)"  # the address compares equal
    assert row["version"] == 0


async def test_S_C4_S_C3_an_inactive_customer_with_the_number_is_matched_and_stays_inactive(
    writer_setup: Setup,
) -> None:
    existing = writer_setup.insert(
        "Customer",
        {"name": "Kunde AS", "customerNumber": 5002, "isInactive": True, "invoiceSendMethod": "EHF"},
    )
    outcome = await apply(
        writer_setup, command(Operation.CREATE, customer("5002", invoice_send_method="EMAIL"), rule_id="S-C4")
    )
    assert outcome.status is OutcomeStatus.APPLIED
    assert outcome.target_entity_id == str(existing["id"])
    assert "matched" in (outcome.reason or "") and "inactive" in (outcome.reason or "")
    assert len([c for c in writer_setup.rows("Customer") if c["customerNumber"] == 5002]) == 1
    assert existing["isInactive"] is True and existing["invoiceSendMethod"] == "EHF"


async def test_S_C3_an_update_never_deactivates_but_S_C5_activation_flows(writer_setup: Setup) -> None:
    row = writer_setup.insert("Customer", {"name": "Kunde AS", "customerNumber": 5003, "isInactive": False})
    inactive = customer("5003", active=False)
    await apply(writer_setup, command(Operation.UPDATE, inactive, linked_to=str(row["id"]), rule_id="S-C5"))
    assert row["isInactive"] is False

    row["isInactive"] = True
    await apply(writer_setup, command(Operation.UPDATE, customer("5003"), linked_to=str(row["id"])))
    assert row["isInactive"] is False


# --------------------------------------------------------------------------- updates
async def test_an_update_that_changes_nothing_writes_nothing(writer_setup: Setup) -> None:
    created = await apply(writer_setup, command(Operation.CREATE, project()))
    assert created.target_entity_id is not None
    writer_setup.transport.requests.clear()
    outcome = await apply(
        writer_setup, command(Operation.UPDATE, project(), linked_to=created.target_entity_id)
    )
    assert outcome.reason == "already up to date (nothing written)"
    assert not [r for r in writer_setup.transport.requests if r[0] == "PUT"]
    (row,) = writer_setup.rows("Project")[-1:]
    assert row["version"] == 0


async def test_an_update_rereads_and_reapplies_after_a_version_conflict(writer_setup: Setup) -> None:
    created = await apply(writer_setup, command(Operation.CREATE, project()))
    row = writer_setup.company.get("Project", int(created.target_entity_id or 0))
    assert row is not None
    bumps = 0

    async def someone_else_writes(request: httpx.Request) -> None:
        nonlocal bumps
        if request.method == "PUT" and bumps < 2:
            bumps += 1
            writer_setup.state.touch(writer_setup.company, row)

    writer_setup.transport.before = someone_else_writes
    outcome = await apply(
        writer_setup, command(Operation.UPDATE, project(name="Renamed"), linked_to=created.target_entity_id)
    )
    assert outcome.status is OutcomeStatus.APPLIED and outcome.reason == "updated name"
    assert row["name"] == "Renamed"


async def test_version_conflicts_that_never_settle_are_a_write_conflict(writer_setup: Setup) -> None:
    created = await apply(writer_setup, command(Operation.CREATE, project()))
    row = writer_setup.company.get("Project", int(created.target_entity_id or 0))
    assert row is not None

    async def always_first(request: httpx.Request) -> None:
        if request.method == "PUT":
            writer_setup.state.touch(writer_setup.company, row)

    writer_setup.transport.before = always_first
    outcome = await apply(
        writer_setup, command(Operation.UPDATE, project(name="Renamed"), linked_to=created.target_entity_id)
    )
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, WRITE_CONFLICT)


async def test_an_update_of_a_record_deleted_in_tripletex_fails_clearly(writer_setup: Setup) -> None:
    outcome = await apply(writer_setup, command(Operation.UPDATE, project(), linked_to="999999"))
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, WRITE_REJECTED)
    assert "does not exist" in (outcome.error_message or "")


async def test_S_P7_completed_in_svenn_closes_the_project_and_touches_nothing_else(
    writer_setup: Setup,
) -> None:
    created = await apply(writer_setup, command(Operation.CREATE, project()))
    row = writer_setup.company.get("Project", int(created.target_entity_id or 0))
    assert row is not None
    completed = project(name="Other name", status=ProjectStatus.COMPLETED)
    outcome = await apply(
        writer_setup,
        command(Operation.COMPLETE, completed, linked_to=created.target_entity_id, rule_id="S-P7"),
    )
    assert outcome.reason == "closed the project (isClosed=true)"
    assert row["isClosed"] is True and row["name"] == "Bad renovation"

    update = command(Operation.UPDATE, completed, linked_to=created.target_entity_id, rule_id="S-P7")
    assert (await apply(writer_setup, update)).reason == "updated name"
    assert row["isClosed"] is True


# --------------------------------------------------------------------------- employees
async def test_S_E1_a_rejected_employee_names_the_field(writer_setup: Setup) -> None:
    payload = EmployeeSnapshot(employee_number="77", first_name="Ola", last_name=" ", email="ola@x.no")
    outcome = await apply(writer_setup, command(Operation.CREATE, payload, rule_id="S-E1"))
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, WRITE_REJECTED)
    assert "lastName: " in (outcome.error_message or "")


async def test_S_E1_an_employee_matched_by_email_keeps_its_tripletex_number(writer_setup: Setup) -> None:
    existing = writer_setup.insert(
        "Employee",
        {
            "firstName": "Kari",
            "lastName": "Old",
            "email": "kari@x.no",
            "employeeNumber": "40",
            "userType": "STANDARD",
        },
    )
    payload = EmployeeSnapshot(
        employee_number="S-9", first_name="Kari", last_name="Nordmann", email="kari@x.no"
    )
    outcome = await apply(writer_setup, command(Operation.CREATE, payload, rule_id="S-E1"))
    assert outcome.target_entity_id == str(existing["id"]) and "by e-mail" in (outcome.reason or "")
    assert existing["employeeNumber"] == "40" and existing["lastName"] == "Old"  # Tripletex wins at link time


# --------------------------------------------------------------------------- numbers (S-P5, S-E2, S-P6)
def test_S_P6_the_next_number_ignores_numbers_with_letters_or_dots() -> None:
    assert first_candidate(["2024.17", "A12.3", "7", "007", "12", "", "١٢٣"]) == 13
    assert first_candidate([]) == 1


async def test_S_P5_a_generated_number_skips_what_the_other_side_uses() -> None:
    taken = {"13", "14"}

    async def in_svenn(number: str) -> bool:
        return number in taken

    assert await free_number(["12", "2024.17"], in_svenn) == "15"
    with pytest.raises(NoFreeNumber):
        await free_number(["1"], lambda n: _true(), max_probes=3)


async def _true() -> bool:
    return True


def _numberless_project(setup: Setup) -> dict[str, Any]:
    return setup.insert(
        "Project",
        {
            "name": "Uten nummer",
            "number": "",
            "startDate": "2026-02-01",
            "projectManager": {"id": setup.company.api_employee_id},
        },
    )


async def test_S_P5_a_project_without_number_gets_one_free_in_tripletex_and_svenn(
    writer_setup: Setup,
) -> None:
    for number in ("41", "2024.99", "B7"):
        writer_setup.insert("Project", {"name": number, "number": number, "startDate": "2026-01-01"})
    row = _numberless_project(writer_setup)
    async with running_sim() as svenn_sim:
        _, key = await svenn_sim.tenant()
        svenn = svenn_sim.client(key)
        await svenn.projects.create(ProjectCreate(display_id="42", name="Taken in Svenn", start_date=START))
        writer_setup.target.svenn = svenn
        cmd = command(
            Operation.ASSIGN_NUMBER,
            ProjectSnapshot(name="Uten nummer", start_date=START),
            source=SourceSystem.TRIPLETEX,
            source_entity_id=str(row["id"]),
            rule_id="S-P5",
        )
        outcome = await apply(writer_setup, cmd)
        again = await apply(writer_setup, cmd)
        await svenn.aclose()
    assert outcome.status is OutcomeStatus.APPLIED and outcome.target_entity_id == str(row["id"])
    assert row["number"] == "43"  # 42 is Svenn's
    assert "Tripletex and Svenn" in (outcome.reason or "")
    assert again.reason == "the project already has number '43' (nothing written)"


async def test_S_E2_an_employee_without_number_gets_the_next_one(writer_setup: Setup) -> None:
    writer_setup.insert(
        "Employee", {"firstName": "A", "lastName": "B", "employeeNumber": "9", "userType": "STANDARD"}
    )
    row = writer_setup.insert(
        "Employee", {"firstName": "Uten", "lastName": "Nummer", "userType": "NO_ACCESS"}
    )
    cmd = command(
        Operation.ASSIGN_NUMBER,
        EmployeeSnapshot(first_name="Uten", last_name="Nummer"),
        source=SourceSystem.TRIPLETEX,
        source_entity_id=str(row["id"]),
        rule_id="S-E2",
    )
    outcome = await apply(writer_setup, cmd)
    assert outcome.status is OutcomeStatus.APPLIED
    assert row["employeeNumber"] == "10"


async def test_S_E1_S_E2_an_employee_with_neither_number_nor_email_is_numbered_in_svenn_first(
    writer_setup: Setup,
) -> None:
    writer_setup.insert(
        "Employee", {"firstName": "A", "lastName": "B", "employeeNumber": "9", "userType": "STANDARD"}
    )
    async with running_sim() as svenn_sim:
        _, key = await svenn_sim.tenant()
        svenn = svenn_sim.client(key)
        await svenn.employees.create(EmployeeCreate(first_name="Tatt", employee_number="10"))
        bare = await svenn.employees.create(EmployeeCreate(first_name="Uten", last_name="Nøkkel"))
        writer_setup.target.svenn = svenn
        cmd = command(
            Operation.CREATE,
            EmployeeSnapshot(first_name="Uten", last_name="Nøkkel"),
            source_entity_id=bare.id,
            rule_id="S-E1",
        )
        outcome = await apply(writer_setup, cmd)
        again = await apply(writer_setup, cmd)  # redelivered: Svenn has the number now
        in_svenn = await svenn.employees.get(bare.id)
        await svenn.aclose()
    (created,) = [e for e in writer_setup.rows("Employee") if e["firstName"] == "Uten"]
    assert created["employeeNumber"] == "11" == in_svenn.employee_number  # 9 in Tripletex, 10 in Svenn
    assert (outcome.status, again.status) == (OutcomeStatus.APPLIED, OutcomeStatus.APPLIED)
    assert outcome.target_entity_id == again.target_entity_id == str(created["id"])
    assert isinstance(outcome.written, EmployeeSnapshot) and outcome.written.employee_number == "11"


async def test_S_E1_an_employee_without_keys_and_without_svenn_access_fails_clearly(
    writer_setup: Setup,
) -> None:
    outcome = await apply(
        writer_setup, command(Operation.CREATE, EmployeeSnapshot(first_name="Uten", last_name="Nøkkel"))
    )
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, WRITE_REJECTED)
    assert "no Svenn connection" in (outcome.error_message or "")
    assert [e for e in writer_setup.rows("Employee") if e["firstName"] == "Uten"] == []


# --------------------------------------------------------------------------- ambiguous matches
async def test_two_tripletex_projects_with_the_number_are_ambiguous_and_nothing_is_linked(
    writer_setup: Setup,
) -> None:
    # Tripletex itself refuses a second number; data imported around that check still exists.
    for name in ("Først", "Dublett"):
        writer_setup.insert("Project", {"name": name, "number": "2024.17", "startDate": "2026-01-01"})
    outcome = await apply(writer_setup, command(Operation.CREATE, project()))
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, MATCH_AMBIGUOUS)
    assert outcome.target_entity_id is None and "2 projects match number '2024.17'" in (
        outcome.error_message or ""
    )
    assert len(writer_setup.rows("Project")) == 2  # nothing created either


async def test_an_employee_whose_email_finds_two_tripletex_employees_is_ambiguous(
    writer_setup: Setup,
) -> None:
    for first in ("Liv", "Liv2"):
        writer_setup.insert(
            "Employee",
            {"firstName": first, "lastName": "N", "email": "liv@firma.no", "userType": "STANDARD"},
        )
    outcome = await apply(
        writer_setup,
        command(Operation.CREATE, EmployeeSnapshot(first_name="Liv", last_name="N", email="LIV@firma.no")),
    )
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, MATCH_AMBIGUOUS)


# --------------------------------------------------------------------------- Tripletex down
async def test_a_tripletex_that_keeps_failing_makes_the_batch_retry_not_dead_letter(
    writer_setup: Setup,
) -> None:
    writer_setup.company.faults.error_rate = 1.0
    with pytest.raises(TransientError):
        await apply(writer_setup, command(Operation.CREATE, project()))
    writer_setup.company.faults.error_rate = 0.0
    outcome = await apply(writer_setup, command(Operation.CREATE, project()))
    assert outcome.status is OutcomeStatus.APPLIED
    assert len([p for p in writer_setup.rows("Project") if p["number"] == "2024.17"]) == 1


async def test_a_command_for_another_side_is_refused(writer_setup: Setup) -> None:
    cmd = command(Operation.CREATE, project()).model_copy(update={"target": SourceSystem.SVENN})
    outcome = await apply(writer_setup, cmd)
    assert (outcome.status, outcome.error_code) == (OutcomeStatus.FAILED, WRITE_REJECTED)


@pytest.mark.skipif("changed_fields" not in Command.model_fields, reason="contract has no changed_fields")
async def test_an_update_writes_only_the_fields_that_changed_since_the_last_sync(writer_setup: Setup) -> None:
    row = writer_setup.insert(
        "Customer",
        {"name": "Kunde AS", "customerNumber": 5004, "phoneNumber": "22 00 00 00", "email": "a@kunde.no"},
    )
    # Svenn renamed the customer; meanwhile someone changed its phone in Tripletex.
    payload = customer("5004", name="Kunde Nytt Navn AS", phone="99 99 99 99")
    cmd = command(Operation.UPDATE, payload, linked_to=str(row["id"]), rule_id="S-C5")
    outcome = await apply(writer_setup, cmd.model_copy(update={"changed_fields": ("name",)}))
    assert outcome.reason == "updated name"
    assert row["name"] == "Kunde Nytt Navn AS" and row["phoneNumber"] == "22 00 00 00"


async def test_the_same_field_changed_in_tripletex_meanwhile_is_kept_tripletex_wins(
    writer_setup: Setup,
) -> None:
    base = project("2024.70", name="Base")
    await apply(writer_setup, command(Operation.CREATE, base))
    (row,) = [p for p in writer_setup.rows("Project") if p["number"] == "2024.70"]
    seen = row["version"]
    writer_setup.state.touch(writer_setup.company, row)  # a Tripletex user renamed it since
    row["name"] = "Tripletex' navn"
    renamed = project("2024.70", name="Svenns navn", end_date=date(2026, 6, 30))
    cmd = command(Operation.UPDATE, renamed, linked_to=str(row["id"])).model_copy(
        update={"changed_fields": ("name", "end_date"), "base": base, "base_version": seen}
    )
    outcome = await apply(writer_setup, cmd)
    assert (row["name"], row["endDate"]) == ("Tripletex' navn", "2026-06-30")
    assert "kept Tripletex's name" in (outcome.reason or "")
    # Not changed in Tripletex since the decision looked: what differs from the base is written.
    again = cmd.model_copy(update={"base_version": row["version"], "command_id": uuid.uuid4()})
    await apply(writer_setup, again)
    assert row["name"] == "Svenns navn"


async def test_S_P4_a_new_project_gets_its_tripletex_customer_through_the_customer_number(
    writer_setup: Setup,
) -> None:
    tripletex_customer = writer_setup.insert("Customer", {"name": "Kunde AS", "customerNumber": 7001})
    async with running_sim() as svenn_sim:
        _, key = await svenn_sim.tenant()
        svenn = svenn_sim.client(key)
        svenn_customer = await svenn.customers.create(CustomerCreate(customer_number="7001", name="Kunde AS"))
        writer_setup.target.svenn = svenn
        outcome = await apply(
            writer_setup, command(Operation.CREATE, project("7001.1", customer_id=svenn_customer.id))
        )
        unknown = await apply(
            writer_setup, command(Operation.CREATE, project("7001.2", customer_id="no-such-customer"))
        )
        await svenn.aclose()
    (created,) = [p for p in writer_setup.rows("Project") if p["number"] == "7001.1"]
    assert outcome.status is OutcomeStatus.APPLIED
    assert created["customer"]["id"] == tripletex_customer["id"]
    assert unknown.status is OutcomeStatus.APPLIED  # created without a customer rather than not at all
