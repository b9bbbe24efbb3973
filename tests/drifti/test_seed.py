"""The demo month: reproducible from its seed, and consistent the way real books are."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

from services.drifti.simulator import SimState
from services.drifti.simulator.seed import create_demo_tenant, previous_month
from services.drifti.simulator.testing import Sim

MONTH = date(2026, 10, 1)


def test_same_seed_gives_the_same_month_and_another_seed_does_not() -> None:
    one = create_demo_tenant(SimState(), "demo", seed=7, month=MONTH).dump()
    two = create_demo_tenant(SimState(), "demo", seed=7, month=MONTH).dump()
    assert one == two  # ids and timestamps included
    other = create_demo_tenant(SimState(), "demo", seed=8, month=MONTH).dump()
    assert other["invoices"] != one["invoices"] and other["time_entries"] != one["time_entries"]
    assert previous_month(date(2026, 1, 15)) == date(2025, 12, 1)


async def test_demo_month_is_self_consistent(sim: Sim) -> None:
    name, key = await sim.tenant("demo", demo={"seed": 3, "month": "2026-10"})
    async with sim.client(key) as client:
        me = await client.me()
        customers = await client.customers.list_all()
        jobs = await client.jobs.list_all()
        invoices = await client.invoices.list_all()
        payments = await client.payments.list_all()
        users = await client.users.list_all()
        rates = await client.hourly_rates.list_all()
        entries = await client.time_entries.list_all()
        accounts = await client.ledger_accounts.list_all()
    assert me.company_name == "Demo Rør & Bygg AS" and me.integration_enabled_at is not None

    # Master data: numeric customer numbers, a user without employee number, rates, chart.
    assert len(customers) == 6 and all(c.customer_number.isdigit() for c in customers)
    assert len(users) == 5 and any(u.employee_number is None for u in users)
    assert len(rates) == 4 and len(accounts) == 6
    # Some jobs predate the integration (D-J1); some are closed.
    assert sum(j.created_at < me.integration_enabled_at for j in jobs) >= 3
    assert {j.status for j in jobs} == {"open", "closed"}

    # Invoices: dozens, totals add up per line and per invoice, every VAT rate, one credit note.
    assert 24 <= len(invoices) <= 60
    account_numbers = {a.number for a in accounts}
    for inv in invoices:
        assert inv.net_amount + inv.vat_amount == inv.gross_amount
        assert sum(ln.gross_amount for ln in inv.lines) == inv.gross_amount
        for ln in inv.lines:
            assert ln.net_amount + ln.vat_amount == ln.gross_amount
            assert ln.ledger_account in account_numbers
        assert inv.job_id in {j.id for j in jobs} and inv.customer_id in {c.id for c in customers}
    assert {ln.vat_rate for inv in invoices for ln in inv.lines} == {25, 15, 12, 0}
    notes = [i for i in invoices if i.is_credit_note]
    assert len(notes) == 1 and notes[0].gross_amount < 0 and notes[0].net_amount < 0
    by_id = {i.id: i for i in invoices}
    credited = by_id[notes[0].credited_invoice_id or ""]
    assert credited.credited_amount == -notes[0].gross_amount

    # Payments: never more than the invoice's total less credits; KID and manual; a partial one.
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for p in payments:
        invoice = by_id[p.invoice_id]
        assert not invoice.is_credit_note and p.payment_date >= invoice.invoice_date
        assert p.customer_id == invoice.customer_id
        assert (p.kid == invoice.kid) if p.method == "kid" else p.kid is None
        paid[p.invoice_id] += p.amount
    for invoice_id, total in paid.items():
        invoice = by_id[invoice_id]
        assert total == invoice.paid_amount <= invoice.gross_amount - invoice.credited_amount
        assert invoice.outstanding_amount == invoice.gross_amount - invoice.credited_amount - total
    assert {p.method for p in payments} == {"kid", "manual"}
    assert any(by_id[i].status == "partially_paid" for i in paid)
    assert any(i.status == "unpaid" for i in invoices)

    # Hours: a few hundred, each pointing at a real user, job and rate; mostly approved.
    assert 200 <= len(entries) <= 400
    user_ids, job_ids, rate_ids = {u.id for u in users}, {j.id for j in jobs}, {r.id for r in rates}
    for e in entries:
        assert e.user_id in user_ids and e.job_id in job_ids and e.hourly_rate_id in rate_ids
        assert MONTH <= e.date <= date(2026, 10, 31)
        assert (e.approved_at is not None) == (e.status == "approved")
    statuses = Counter(e.status for e in entries)
    assert set(statuses) == {"approved", "pending", "rejected"}
    assert statuses["approved"] > len(entries) / 2

    # The dump (admin view) matches what the API shows.
    dump = (await sim.admin.get(f"/_sim/tenants/{name}/dump")).json()
    assert len(dump["time_entries"]) == len(entries) and len(dump["invoices"]) == len(invoices)


async def test_demo_month_must_have_ended(sim: Sim) -> None:
    r = await sim.admin.post("/_sim/tenants", json={"name": "future", "demo": {"month": "2999-01"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "demo.month"
    r = await sim.admin.post("/_sim/tenants", json={"name": "typo", "demo": {"month": "oktober"}})
    assert r.status_code == 422
    r = await sim.admin.post("/_sim/tenants", json={"name": "default", "demo": True})
    assert r.status_code == 201
