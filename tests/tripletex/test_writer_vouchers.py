"""The Tripletex writer's Drifti operations against both simulators, in-process (no Kafka).

D-C1, D-J1/D-J2, D-I1 and D-P1 on a real demo month's records: vouchers balance, the PDF is
attached once, customers and projects are matched by number and never duplicated, and a
command delivered twice books nothing twice. Kafka + PostgreSQL end to end:
``tests/integration/test_drifti_transfer.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from contracts.entities import EntitySnapshot, InvoiceSnapshot
from contracts.envelope import Command, ExpectedLink, LinkState, Operation, OutcomeStatus, SourceSystem
from services.decision.rules.drifti_invoices import with_accounts
from services.drifti.client.models import Invoice
from services.drifti.ingest import DriftiReader, event_of
from services.drifti.simulator.testing import Sim, running_sim
from services.tripletex.client import ClientSettings, LimiterRegistry, RetryPolicy, TripletexClient
from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import Company, SimulatorState
from services.tripletex.writer_ops import TenantTarget, apply_command

TENANT = "tenant-drifti"
FAST = ClientSettings(retry=RetryPolicy(max_attempts=3, server_error_base_seconds=0.001))
ACCOUNTS = {
    (TENANT, d): t
    for d, t in {
        "3000": "3000",
        "3005": "3000",
        "3015": "3000",
        "3025": "3000",
        "3100": "3100",
        "3600": "3000",
    }.items()
}


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Setup:
    state: SimulatorState
    company: Company
    target: TenantTarget
    reader: DriftiReader

    def rows(self, schema: str) -> list[dict[str, Any]]:
        return list(self.company.table(schema).values())

    async def command(self, record: Any) -> Command:
        event = await event_of(self.reader, TENANT, record)
        payload: EntitySnapshot | None = event.snapshot
        if isinstance(payload, InvoiceSnapshot):
            payload = with_accounts(payload, TENANT, ACCOUNTS)
        return Command(
            tenant_id=TENANT,
            correlation_id=event.event_id,
            command_id=uuid.uuid4(),
            source=SourceSystem.DRIFTI,
            target=SourceSystem.TRIPLETEX,
            operation=Operation.CREATE,
            entity_type=event.entity_type,
            source_entity_id=record.id,
            payload=payload,
            expected_link=ExpectedLink(state=LinkState.ABSENT),
            rule_id="D-I1",
        )

    def receivable_by_customer(self) -> dict[int, Decimal]:
        receivable = next(a["id"] for a in self.rows("Account") if a["number"] == 1500)
        sums: dict[int, Decimal] = {}
        for p in self.rows("Posting"):
            if p["account"]["id"] == receivable:
                cid = p["customer"]["id"]
                sums[cid] = sums.get(cid, Decimal(0)) + Decimal(str(p["amountGross"]))
        return sums


@pytest.fixture
async def drifti_sim() -> AsyncIterator[Sim]:
    async with running_sim() as sim:
        yield sim


@pytest.fixture
async def setup(drifti_sim: Sim) -> AsyncIterator[Setup]:
    _, key = await drifti_sim.tenant(demo={"seed": 1, "month": "2026-10"})
    state = SimulatorState(rng_seed=5)
    company = state.create_company("Drifti Writer AS")
    tx = TripletexClient(
        "http://tripletex.test/v2",
        TENANT,
        consumer_token=company.consumer_token,
        employee_token=company.employee_token,
        settings=FAST,
        transport=httpx.ASGITransport(app=create_app(state)),
        limiters=LimiterRegistry(FAST.limiter, sleep=_no_wait),
        sleep=_no_wait,
    )
    drifti = drifti_sim.client(key)
    target = TenantTarget(tenant_id=TENANT, tripletex=tx, drifti=drifti)
    try:
        yield Setup(state, company, target, DriftiReader(drifti))
    finally:
        await target.aclose()


async def _invoices(setup: Setup) -> list[Invoice]:
    return await setup.reader.client.invoices.list_all()


async def test_D_I1_invoice_voucher_balances_has_its_pdf_and_its_project_and_customer(setup: Setup) -> None:
    invoice = next(i for i in await _invoices(setup) if i.kind == "invoice" and len(i.lines) >= 3)
    outcome = await apply_command(await setup.command(invoice), setup.target)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error_message
    (voucher,) = setup.rows("Voucher")
    assert voucher["externalVoucherNumber"] == f"drifti-faktura-{invoice.invoice_number}"
    postings = [p for p in setup.rows("Posting") if p["voucher"]["id"] == voucher["id"]]
    # Balanced: the manual postings' gross amounts, and every posting's net amount (the VAT
    # rows Tripletex generates included), each sum to zero.
    assert sum(Decimal(str(p["amountGross"])) for p in postings if not p["systemGenerated"]) == 0
    assert sum(Decimal(str(p["amount"])) for p in postings) == 0
    vat = sum(Decimal(str(p["amountGross"])) for p in postings if p.get("systemGenerated"))
    assert -vat == invoice.vat_amount  # VAT as on the invoice, to the øre
    (project,) = setup.rows("Project")
    job = await setup.reader.job(invoice.job_id)
    assert project["number"] == job.job_number
    assert all(p["project"]["id"] == project["id"] for p in postings)
    (customer,) = setup.rows("Customer")
    customer_number = (await setup.reader.customer(invoice.customer_id)).customer_number
    assert str(customer["customerNumber"]) == customer_number and project["customer"]["id"] == customer["id"]
    document = setup.company.files[voucher["attachment"]["id"]]
    assert document == await setup.reader.client.invoices.pdf(invoice.id)


async def test_D_I1_redelivered_invoice_command_books_and_attaches_nothing_twice(setup: Setup) -> None:
    invoice = (await _invoices(setup))[0]
    cmd = await setup.command(invoice)
    first = await apply_command(cmd, setup.target)
    again = await apply_command(cmd, setup.target)
    assert first.target_entity_id == again.target_entity_id and again.status is OutcomeStatus.APPLIED
    assert "not duplicated" in (again.reason or "") and "already attached" in (again.reason or "")
    (voucher,) = setup.rows("Voucher")
    assert len(setup.company.files[voucher["attachment"]["id"]]) == len(
        await setup.reader.client.invoices.pdf(invoice.id)
    )
    assert len(setup.rows("Project")) == 1 and len(setup.rows("Customer")) == 1


async def test_D_C1_D_J2_existing_customer_and_project_are_matched_by_number_not_duplicated(
    setup: Setup,
) -> None:
    invoice = (await _invoices(setup))[0]
    job = await setup.reader.job(invoice.job_id)
    customer = await setup.reader.customer(invoice.customer_id)
    tx = setup.target.tripletex
    made = await tx.transport.request(
        "POST", "/customer", json={"name": "Kunde fra før", "customerNumber": int(customer.customer_number)}
    )
    me = await tx.who_am_i()
    await tx.transport.request(
        "POST",
        "/project",
        json={
            "name": "Prosjekt fra før",
            "number": job.job_number,
            "projectManager": {"id": me.employee_id},
            "startDate": "2026-01-01",
            "isInternal": False,
        },
    )
    outcome = await apply_command(await setup.command(invoice), setup.target)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error_message
    assert [c["name"] for c in setup.rows("Customer")] == ["Kunde fra før"]
    assert [p["name"] for p in setup.rows("Project")] == ["Prosjekt fra før"]
    assert "matched by number" in (outcome.reason or "")
    receivable = setup.receivable_by_customer()
    assert receivable == {made.json()["value"]["id"]: invoice.gross_amount}


async def test_D_I1_credit_note_reverses_and_D_P1_payments_leave_drifti_open_balances(setup: Setup) -> None:
    invoices = await _invoices(setup)
    payments = await setup.reader.client.payments.list_all()
    for record in [*invoices, *payments]:
        outcome = await apply_command(await setup.command(record), setup.target)
        assert outcome.status is OutcomeStatus.APPLIED, outcome.error_message
    credit = next(i for i in invoices if i.kind == "credit_note")
    credit_voucher = next(
        v
        for v in setup.rows("Voucher")
        if v["externalVoucherNumber"] == f"drifti-faktura-{credit.invoice_number}"
    )
    credit_postings = [p for p in setup.rows("Posting") if p["voucher"]["id"] == credit_voucher["id"]]
    receivable = next(a["id"] for a in setup.rows("Account") if a["number"] == 1500)
    assert [Decimal(str(p["amountGross"])) for p in credit_postings if p["account"]["id"] == receivable] == [
        credit.gross_amount
    ] and credit.gross_amount < 0
    # Open balance per customer in Tripletex = what Drifti shows as outstanding.
    by_number = {str(c["customerNumber"]): c["id"] for c in setup.rows("Customer")}
    expected: dict[int, Decimal] = {}
    for invoice in invoices:
        number = (await setup.reader.customer(invoice.customer_id)).customer_number
        cid = by_number[number]
        expected[cid] = expected.get(cid, Decimal(0)) + invoice.outstanding_amount
    assert setup.receivable_by_customer() == expected
    assert len(setup.rows("Voucher")) == len(invoices) + len(payments)
    # Every payment again (a replay): nothing new.
    for payment in payments:
        outcome = await apply_command(await setup.command(payment), setup.target)
        assert "never twice" in (outcome.reason or "")
    assert len(setup.rows("Voucher")) == len(invoices) + len(payments)


async def test_D_I1_a_voucher_booked_before_a_crash_gets_its_pdf_on_the_redelivery(setup: Setup) -> None:
    invoice = (await _invoices(setup))[0]
    cmd = await setup.command(invoice)
    await apply_command(cmd, setup.target)
    (voucher,) = setup.rows("Voucher")
    # As if the writer stopped between booking the voucher and uploading the PDF.
    await setup.target.tripletex.transport.request("DELETE", f"/ledger/voucher/{voucher['id']}/attachment")
    assert setup.rows("Voucher")[0].get("attachment") is None
    outcome = await apply_command(cmd, setup.target)
    assert outcome.status is OutcomeStatus.APPLIED and "PDF attached" in (outcome.reason or "")
    (voucher,) = setup.rows("Voucher")
    assert setup.company.files[voucher["attachment"]["id"]] == await setup.reader.client.invoices.pdf(
        invoice.id
    )


async def test_D_L1_mapping_to_an_account_tripletex_lacks_fails_the_write_naming_it(setup: Setup) -> None:
    invoice = (await _invoices(setup))[0]
    cmd = await setup.command(invoice)
    assert isinstance(cmd.payload, InvoiceSnapshot)
    lines = tuple(line.model_copy(update={"tripletex_account": "3999"}) for line in cmd.payload.lines)
    wrong = cmd.model_copy(update={"payload": cmd.payload.model_copy(update={"lines": lines})})
    outcome = await apply_command(wrong, setup.target)
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_code == "WRITE_REJECTED"
    assert "no account 3999" in (outcome.error_message or "")
    assert setup.rows("Voucher") == []
