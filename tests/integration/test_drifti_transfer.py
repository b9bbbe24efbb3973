"""Drifti → Tripletex end to end (sync-rules.md, Part 2: D-S1, D-C1, D-J1, D-J2, D-I1, D-L1, D-P1).

A month of a small plumbing firm (the Drifti simulator's demo month: six customers, eight
jobs, a few dozen invoices with a credit note, KID and manual payments, full and partial)
goes through the whole engine on real Kafka and PostgreSQL, with both simulators over HTTP:
the catch-up poll reads the back-dated month, webhooks carry what happens live afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from contracts.error_codes import DRIFTI_ACCOUNT_UNMAPPED, DRIFTI_PAYMENT_BEFORE_SWITCH_ON
from projections import drifti_accounts
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.drifti.accounts import map_account
from services.drifti.catch_up import drifti_catch_up_pass
from services.drifti.client import DriftiClient
from services.drifti.client.models import Invoice
from services.drifti.client.webhooks import compute_signature
from services.drifti.ingest import DriftiReaders, event_of, poll_drifti_changes
from services.ingest.catch_up import CatchUp
from services.sandbox import Sandbox, SandboxTenant

pytestmark = pytest.mark.integration

WAIT = 30.0
MONTH = {"seed": 1, "month": "2026-10"}
THE_BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings.model_copy(update={"catch_up": False}), tenant_prefix="drifti") as running:
        yield running


class Books:
    """What the tenant's Tripletex company holds, read from the simulator's state."""

    def __init__(self, sandbox: Sandbox, t: SandboxTenant) -> None:
        self.company = sandbox.tripletex_state.companies[t.company_id]

    def rows(self, schema: str) -> list[dict[str, Any]]:
        return list(self.company.table(schema).values())

    def vouchers(self) -> dict[str, dict[str, Any]]:
        return {v["externalVoucherNumber"]: v for v in self.rows("Voucher") if v.get("externalVoucherNumber")}

    def postings_of(self, voucher: dict[str, Any]) -> list[dict[str, Any]]:
        return [p for p in self.rows("Posting") if p["voucher"]["id"] == voucher["id"]]

    def receivable_by_customer_number(self) -> dict[str, Decimal]:
        receivable = next(a["id"] for a in self.rows("Account") if a["number"] == 1500)
        numbers = {c["id"]: str(c["customerNumber"]) for c in self.rows("Customer")}
        sums: Counter[str] = Counter()
        for p in self.rows("Posting"):
            if p["account"]["id"] == receivable:
                sums[numbers[p["customer"]["id"]]] += Decimal(str(p["amountGross"]))
        return {n: Decimal(v).quantize(Decimal("0.01")) for n, v in sums.items()}


def _uses(invoice: Invoice, account: str) -> bool:
    return any(line.ledger_account == account for line in invoice.lines)


async def test_D_rules_a_month_of_a_small_firm_transfers_balanced_with_pdfs_and_open_balances(
    sandbox: Sandbox,
) -> None:
    t = await sandbox.add_tenant(webhooks=False)  # Drifti only: no Svenn flows for this tenant
    drifti: DriftiClient = await sandbox.add_drifti(t, demo=MONTH)
    books = Books(sandbox, t)
    pool = sandbox.runtime.database.pool if sandbox.runtime.database else None
    assert pool is not None
    reader = await sandbox.runtime.drifti_readers(t.tenant_id)
    engine_tx = await sandbox.runtime.tripletex_clients(t.tenant_id)
    customers = {c.id: c for c in await drifti.customers.list_all()}
    jobs = {j.id: j for j in await drifti.jobs.list_all()}
    invoices = await drifti.invoices.list_all()
    payments = await drifti.payments.list_all()
    enabled_at = (await drifti.me()).integration_enabled_at
    assert enabled_at is not None and len(invoices) >= 25 and len(payments) >= 10
    # The month has what D-P1 covers: KID and manual payments, partial and full, and open invoices.
    assert {p.method for p in payments} == {"kid", "manual"}
    assert {"paid", "partially_paid", "unpaid"} <= {i.status for i in invoices}

    # Already in Tripletex before the integration: a customer and a job's project (D-C1, D-J2).
    reused_customer = customers[invoices[0].customer_id].customer_number
    reused_job = jobs[invoices[-1].job_id].job_number
    await t.tripletex_api(
        "POST", "/customer", {"name": "Kunde fra før", "customerNumber": int(reused_customer)}
    )
    await t.new_tripletex_project(reused_job, "Prosjekt fra før")

    # D-L1: an operator maps two accounts up front; 3025 and 3600 are in no chart yet.
    await drifti_accounts.put(pool, t.tenant_id, {"3005": "3000", "3015": "3000"}, "operator")
    waiting = {i.id: i for i in invoices if _uses(i, "3600") or _uses(i, "3025")}
    assert any(_uses(i, "3600") for i in waiting.values())
    assert any(_uses(i, "3025") for i in waiting.values())

    # The catch-up pass matches equal numbers (3000, 3100) and reads the month.
    await drifti_catch_up_pass(pool, reader, engine_tx, t.tenant_id, THE_BEGINNING, sandbox.runtime.publisher)
    assert await drifti_accounts.load(pool, [t.tenant_id]) == {
        (t.tenant_id, "3000"): "3000",
        (t.tenant_id, "3100"): "3100",
        (t.tenant_id, "3005"): "3000",
        (t.tenant_id, "3015"): "3000",
    }

    expected_now = len(invoices) - len(waiting) + len(payments)
    await sandbox.wait_until(lambda: len(books.vouchers()) >= expected_now, timeout=WAIT)

    async def unmapped_errors() -> list[Any]:
        rows = await sandbox.errors(t.tenant_id, open_only=True)
        return [r for r in rows if r["error_code"] == DRIFTI_ACCOUNT_UNMAPPED]

    errors = await sandbox.wait_until(
        lambda: _when(unmapped_errors(), lambda rows: len(rows) == len(waiting)), timeout=WAIT
    )
    for row in errors:  # the error names the account(s) the invoice needs
        needs = sorted({line.ledger_account for line in waiting[row["entity_id"]].lines} & {"3025", "3600"})
        assert f"account {', '.join(needs)} is not mapped" in row["detail"], row["detail"]
    assert not any(f"drifti-faktura-{i.invoice_number}" in books.vouchers() for i in waiting.values())

    # An operator maps 3600: the invoices waiting only for it are decided again and transfer.
    sent = await map_account(pool, sandbox.runtime.publisher, t.tenant_id, reader, "3600", "3000", engine_tx)
    assert sent == len(waiting)
    only_3600 = [i for i in waiting.values() if not _uses(i, "3025")]
    await sandbox.wait_until(
        lambda: all(f"drifti-faktura-{i.invoice_number}" in books.vouchers() for i in only_3600), timeout=WAIT
    )
    # 3025 appears in the Tripletex chart: the next catch-up pass maps it and the rest transfer.
    await t.tripletex_api(
        "POST", "/ledger/account", {"number": 3025, "name": "Salgsinntekt, persontransport"}
    )
    await drifti_catch_up_pass(
        pool, reader, engine_tx, t.tenant_id, datetime.now(UTC), sandbox.runtime.publisher
    )
    await sandbox.wait_until(lambda: len(books.vouchers()) >= len(invoices) + len(payments), timeout=WAIT)
    await sandbox.wait_until(lambda: _when(unmapped_errors(), lambda rows: not rows), timeout=WAIT)

    # Live: a new job (after the switch-on) gets its project at once; its invoice and a KID
    # payment arrive by webhook.
    new_job = await drifti.jobs.create({"title": "Ny varmepumpe", "customer_id": invoices[0].customer_id})
    await sandbox.wait_until(lambda: t.tripletex_project(new_job.job_number), timeout=WAIT)
    live = await drifti.invoices.create(
        {
            "job_id": new_job.id,
            "invoice_date": date.today(),
            "lines": [
                {"description": "Arbeid", "quantity": "3", "unit_price": "895.00", "ledger_account": "3000"}
            ],
        }
    )
    await drifti.payments.create(
        {"method": "kid", "kid": live.kid, "amount": "1000.00", "payment_date": date.today()}
    )
    total = len(invoices) + len(payments) + 2
    await sandbox.wait_until(lambda: len(books.vouchers()) >= total, timeout=WAIT)

    # Replaying the month (the catch-up poll from the beginning) and redelivered webhooks create nothing.
    await poll_drifti_changes(reader, t.tenant_id, THE_BEGINNING, sandbox.runtime.publisher)
    await sandbox.settle(t.tenant_id, quiet=2.0)
    vouchers = books.vouchers()
    assert len(vouchers) == total and len(books.rows("Voucher")) == total

    # D-I1: every voucher balances; every invoice voucher carries its PDF; credit notes reverse.
    invoices = await drifti.invoices.list_all()
    for voucher in vouchers.values():
        postings = books.postings_of(voucher)
        assert sum(Decimal(str(p["amount"])) for p in postings) == 0, voucher["externalVoucherNumber"]
    for invoice in invoices:
        voucher = vouchers[f"drifti-faktura-{invoice.invoice_number}"]
        pdf = books.company.files[voucher["attachment"]["id"]]
        assert pdf == await drifti.invoices.pdf(invoice.id)
        rows = books.postings_of(voucher)
        project_ids = {p["project"]["id"] for p in rows if not p["systemGenerated"]}
        assert len(project_ids) == 1
        # VAT as on the invoice, to the øre (the VAT rows Tripletex derives from the postings).
        assert (
            -sum(Decimal(str(p["amountGross"])) for p in rows if p["systemGenerated"]) == invoice.vat_amount
        )
    credit = next(i for i in invoices if i.kind == "credit_note")
    credit_rows = books.postings_of(vouchers[f"drifti-faktura-{credit.invoice_number}"])
    assert (
        min(Decimal(str(p["amountGross"])) for p in credit_rows if not p["systemGenerated"])
        == credit.gross_amount
    )

    # D-P1: the open balance per customer in Tripletex is what Drifti says is outstanding.
    customers = {c.id: c for c in await drifti.customers.list_all()}
    outstanding: Counter[str] = Counter()
    for invoice in invoices:
        outstanding[customers[invoice.customer_id].customer_number] += invoice.outstanding_amount
    expected = {n: Decimal(v).quantize(Decimal("0.01")) for n, v in outstanding.items()}
    assert books.receivable_by_customer_number() == expected

    # D-C1 / D-J2: one Tripletex record per number; what existed before was reused, not duplicated.
    numbers = Counter(str(c["customerNumber"]) for c in books.rows("Customer"))
    assert all(n == 1 for n in numbers.values())
    assert (await t.tripletex_customer(reused_customer) or {})["name"] == "Kunde fra før"
    project_numbers = Counter(p["number"] for p in books.rows("Project"))
    assert all(n == 1 for n in project_numbers.values())
    assert (await t.tripletex_project(reused_job) or {})["name"] == "Prosjekt fra før"

    # D-J1: a job from before the switch-on got its project with its first invoice; one without
    # invoices (the job closed long ago) has none.
    jobs = {j.id: j for j in await drifti.jobs.list_all()}
    invoiced = {i.job_id for i in invoices}
    old = [j for j in jobs.values() if j.created_at < enabled_at]
    assert any(j.id in invoiced for j in old) and any(j.id not in invoiced for j in old)
    for job in old:
        assert (job.job_number in project_numbers) == (job.id in invoiced), job.job_number
    assert set(project_numbers) == {jobs[i].job_number for i in invoiced} | {new_job.job_number}


async def _when(rows: Any, ok: Any) -> Any:
    """``rows`` once ``ok(rows)`` holds (``True`` for an empty one, so waiting for "none" works)."""
    value = await rows
    return (value or True) if ok(value) else None


async def test_D_ingest_signed_webhook_and_poll_give_one_event_and_bad_signatures_are_refused(
    sandbox: Sandbox,
) -> None:
    t = await sandbox.add_tenant(webhooks=False)
    drifti = await sandbox.add_drifti(t, webhooks=False)
    customer = await drifti.customers.create({"name": "Signert AS"})
    config = await sandbox.tenants.get(t.tenant_id)
    assert config.drifti is not None and config.drifti.webhook_secret is not None
    body = json.dumps(
        {
            "event_id": "evt_1",
            "event_type": "customer.created",
            "occurred_at": customer.updated_at.isoformat(),
            "tenant": t.tenant_id,
            "resource_type": "customer",
            "resource_id": customer.id,
            "resource_version": customer.version,
            "data": customer.model_dump(mode="json"),
        }
    ).encode()
    url = f"{sandbox.engine_url}/webhooks/drifti/{t.tenant_id}"

    def headers(secret: str) -> dict[str, str]:
        now = str(int(time.time()))
        return {
            "X-Drifti-Timestamp": now,
            "X-Drifti-Signature": compute_signature(secret, now, body),
            "Content-Type": "application/json",
        }

    secret = config.drifti.webhook_secret.get_secret_value()
    async with httpx.AsyncClient() as http:
        first = await http.post(url, content=body, headers=headers(secret))
        again = await http.post(url, content=body, headers=headers(secret))  # a redelivery
        forged = await http.post(url, content=body, headers=headers("whsec_not-the-secret-at-all"))
    assert (first.status_code, again.status_code, forged.status_code) == (202, 202, 401)
    assert first.json()["event_id"] == again.json()["event_id"]
    # The catch-up poll reads the same record version: the same event id (a repeat downstream).
    reader = await sandbox.runtime.drifti_readers(t.tenant_id)
    polled = await event_of(reader, t.tenant_id, customer)
    assert str(polled.event_id) == first.json()["event_id"]
    # D-C1 through the webhook: the customer is in Tripletex once.
    found = await sandbox.wait_until(lambda: t.tripletex_customer(customer.customer_number), timeout=WAIT)
    assert found["name"] == "Signert AS"


async def test_D_catch_up_loop_maps_the_chart_and_transfers_what_no_webhook_announced(
    sandbox: Sandbox, settings: Settings
) -> None:
    t = await sandbox.add_tenant(webhooks=False)
    drifti = await sandbox.add_drifti(t, webhooks=False)  # nothing announced: only the poll sees it
    customer = await drifti.customers.create({"name": "Uten webhook AS"})
    job = await drifti.jobs.create({"title": "Stille jobb", "customer_id": customer.id})
    invoice = await drifti.invoices.create(
        {
            "job_id": job.id,
            "lines": [
                {"description": "Arbeid", "quantity": "2", "unit_price": "895.00", "ledger_account": "3000"}
            ],
        }
    )
    only_this = StaticTenantDirectory([await sandbox.tenants.get(t.tenant_id)])
    fast = settings.model_copy(update={"drifti_poll_interval_s": 0.05})
    readers = DriftiReaders(only_this)
    catch_up = CatchUp(fast, only_this, sandbox.runtime.publisher, sandbox.runtime.tripletex_clients, readers)
    books = Books(sandbox, t)
    await catch_up.start()
    try:

        def booked_with_pdf() -> dict[str, Any] | None:
            found = books.vouchers().get(f"drifti-faktura-{invoice.invoice_number}")
            return found if found and found.get("attachment") else None

        voucher = await sandbox.wait_until(booked_with_pdf, timeout=WAIT)
        await asyncio.sleep(0.5)  # ten more passes publish the same versions again
    finally:
        await catch_up.stop()
        await readers.aclose()
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert len(books.rows("Voucher")) == 1 and len(books.rows("Project")) == 1  # repeats wrote nothing
    assert books.company.files[voucher["attachment"]["id"]] == await drifti.invoices.pdf(invoice.id)
    assert (await t.tripletex_project(job.job_number) or {})["name"] == "Stille jobb"  # D-J2 on job.created


async def test_D_S1_invoice_from_before_the_switch_on_paid_afterwards_is_never_booked(
    sandbox: Sandbox,
) -> None:
    """The accountant booked the old invoice before the integration; its payment after the switch-on
    bumps it (a webhook of the invoice and one of the payment): neither becomes a voucher, and the
    payment is listed in the error log to be booked by hand."""
    t = await sandbox.add_tenant(webhooks=False)
    drifti = await sandbox.add_drifti(t, demo=MONTH)  # switched on the 1st; webhooks from now on
    pool = sandbox.runtime.database.pool if sandbox.runtime.database else None
    assert pool is not None
    await drifti_accounts.put(pool, t.tenant_id, {"3000": "3000"}, "operator")  # it could be booked
    enabled_at = (await drifti.me()).integration_enabled_at
    assert enabled_at is not None
    switch_on_day = enabled_at.astimezone(ZoneInfo("Europe/Oslo")).date()
    job = (await drifti.jobs.list_all())[0]
    line = {"description": "Arbeid", "quantity": "2", "unit_price": "895.00", "ledger_account": "3000"}
    old = await drifti.invoices.create(
        {"job_id": job.id, "invoice_date": switch_on_day - timedelta(days=2), "lines": [line]}
    )
    fresh = await drifti.invoices.create({"job_id": job.id, "invoice_date": switch_on_day, "lines": [line]})
    payment = await drifti.payments.create(
        {"invoice_id": old.id, "amount": "500.00", "payment_date": date.today(), "method": "manual"}
    )
    books = Books(sandbox, t)

    async def listed() -> list[Any]:
        rows = await sandbox.errors(t.tenant_id, open_only=True)
        return [r for r in rows if r["error_code"] == DRIFTI_PAYMENT_BEFORE_SWITCH_ON]

    (entry,) = await sandbox.wait_until(lambda: _when(listed(), lambda rows: len(rows) == 1), timeout=WAIT)
    assert entry["entity_id"] == payment.id and f"invoice {old.invoice_number}" in entry["detail"]
    # The invoice of the switch-on day itself is the integration's: it is booked.
    await sandbox.wait_until(
        lambda: f"drifti-faktura-{fresh.invoice_number}" in books.vouchers(), timeout=WAIT
    )
    await sandbox.settle(t.tenant_id, quiet=1.0)
    vouchers = books.vouchers()
    assert f"drifti-faktura-{old.invoice_number}" not in vouchers
    assert f"drifti-betaling-{payment.id}" not in vouchers
    assert len(vouchers) == 1
