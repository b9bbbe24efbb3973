"""The production client against the simulator: typed results, paging, retries, secrecy."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import httpx
import pytest

from services.drifti.client import (
    Customer,
    DriftiAuthError,
    DriftiClient,
    DriftiConflictError,
    DriftiNotFoundError,
    DriftiRateLimitedError,
    DriftiServerError,
    DriftiTransportError,
    DriftiValidationError,
    Invoice,
    RetryPolicy,
)
from services.drifti.simulator.testing import BASE_URL, Sim


async def test_iterator_walks_every_page_in_creation_order(client: DriftiClient) -> None:
    for i in range(23):
        await client.customers.create({"name": f"Kunde {i}"})
    seen = [c.customer_number async for c in client.customers.iterate(page_size=5)]
    assert seen == [str(10001 + i) for i in range(23)]
    page = await client.customers.page(limit=5)
    assert len(page.data) == 5 and page.has_more and page.next_cursor
    last = await client.customers.page(limit=50)
    assert not last.has_more and last.next_cursor is None


async def test_typed_reads_lookups_and_changed_since(client: DriftiClient) -> None:
    me = await client.me()
    customer = await client.customers.create({"name": "Fjordbygg AS", "customer_number": "20001"})
    job = await client.jobs.create({"title": "Nytt bad", "customer_id": customer.id, "job_number": "4711"})
    assert isinstance(customer, Customer) and job.status == "open" and me.currency == "NOK"
    assert (await client.customers.find_by_number("20001")) == customer
    assert await client.customers.find_by_number("404") is None
    assert (await client.jobs.find_by_number("4711")) == job
    account = await client.ledger_accounts.find_by_number("3000")
    assert account is not None and account.default_vat_rate == 25

    invoice = await client.invoices.create(
        {
            "job_id": job.id,
            "invoice_date": date(2026, 10, 1),
            "lines": [
                {
                    "description": "Arbeid",
                    "quantity": Decimal("2.5"),
                    "unit_price": Decimal("895"),
                    "ledger_account": "3000",
                }
            ],
        }
    )
    assert isinstance(invoice, Invoice) and invoice.gross_amount == Decimal("2796.88")
    assert invoice.lines[0].vat_amount == Decimal("559.38")
    assert (await client.invoices.find_by_number(invoice.invoice_number)) == invoice
    payment = await client.payments.create(
        {"method": "kid", "kid": invoice.kid, "amount": Decimal("796.88"), "payment_date": date(2026, 10, 9)}
    )
    assert payment.invoice_id == invoice.id and payment.customer_id == customer.id
    assert await client.payments.for_invoice(invoice.id) == [payment]
    note = await client.invoices.create(
        {
            "credited_invoice_id": invoice.id,
            "invoice_date": date(2026, 10, 10),
            "lines": [
                {
                    "description": "Rabatt",
                    "quantity": -1,
                    "unit_price": Decimal("100"),
                    "ledger_account": "3000",
                }
            ],
        }
    )
    assert note.is_credit_note and note.gross_amount == Decimal("-125.00")
    assert [n.id for n in await client.invoices.credit_notes_for(invoice)] == [note.id]

    fresh = await client.invoices.get(invoice.id)
    assert (fresh.paid_amount, fresh.credited_amount, fresh.outstanding_amount) == (
        Decimal("796.88"),
        Decimal("125.00"),
        Decimal("1875.00"),
    )
    changed = [i.id async for i in client.invoices.changed_since(note.created_at)]
    assert set(changed) == {invoice.id, note.id}  # the original moved when it was credited
    pdf = await client.invoices.pdf(note.id)
    assert pdf.startswith(b"%PDF-") and f"Krediterer faktura {invoice.invoice_number}".encode() in pdf

    renamed = await client.jobs.update(job.id, {"title": "Nytt bad og vaskerom"})
    assert renamed.version == 2 and renamed.title == "Nytt bad og vaskerom"
    with pytest.raises(DriftiNotFoundError):
        await client.jobs.get("job_missing")


async def test_time_entries_for_an_export_period(client: DriftiClient) -> None:
    customer = await client.customers.create({"name": "Kunde"})
    job = await client.jobs.create({"title": "Oppdrag", "customer_id": customer.id})
    user = await client.users.create({"name": "Ahmed Rahimi", "email": "ahmed@ex.no"})
    rate = await client.hourly_rates.create({"name": "Fagarbeider", "price_per_hour": Decimal("895")})
    assert user.employee_number is None  # D-E1: may be missing
    for day, status in ((1, "approved"), (2, "pending"), (3, "approved"), (4, "rejected")):
        await client.time_entries.create(
            {
                "user_id": user.id,
                "job_id": job.id,
                "hourly_rate_id": rate.id,
                "date": date(2026, 10, day),
                "hours": Decimal("7.5"),
                "status": status,
            }
        )
    await client.time_entries.create(
        {
            "user_id": user.id,
            "job_id": job.id,
            "hourly_rate_id": rate.id,
            "date": date(2026, 11, 1),
            "hours": Decimal("1"),
            "status": "approved",
        }
    )
    approved = [
        e async for e in client.time_entries.approved_in_period(date(2026, 10, 1), date(2026, 10, 31))
    ]
    assert [e.date.day for e in approved] == [1, 3]
    assert sum(e.hours for e in approved) == Decimal("15.0")
    both = [
        e
        async for e in client.time_entries.in_period(
            date(2026, 10, 2), date(2026, 10, 4), status=["pending", "rejected"]
        )
    ]
    assert [e.status for e in both] == ["pending", "rejected"]
    with pytest.raises(DriftiConflictError) as info:
        await client.time_entries.update(approved[0].id, {"hours": Decimal("8")})
    assert info.value.code == "TIME_ENTRY_APPROVED"


async def test_validation_error_carries_field_messages(client: DriftiClient) -> None:
    with pytest.raises(DriftiValidationError) as info:
        await client.customers.create(
            {"name": "Feil", "customer_number": "K-17", "organization_number": "12"}
        )
    fields = {d.field for d in info.value.details}
    assert fields == {"customer_number", "organization_number"}
    assert "customer_number" in str(info.value) and info.value.request_id
    with pytest.raises(ValueError):  # a typo in our own code fails before any request
        await client.customers.create({"name": "X", "colour": "red"})


async def test_429_is_absorbed_by_waiting_for_retry_after(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, rate_limit={"limit": 2, "period_seconds": 5})
    window = sim.state.tenants[name].faults.window
    now = [1000.0]
    window.clock = lambda: now[0]
    waits: list[float] = []

    async def sleep(delay: float) -> None:  # time passes only when the client waits
        waits.append(delay)
        now[0] += delay

    async with sim.client(key, sleep=sleep) as client:
        for _ in range(5):
            await client.users.list_all()
    assert len(waits) == 2  # requests 3 and 5 met a 429 and waited
    assert all(5 <= w <= 5.1 for w in waits)  # Retry-After (whole seconds) plus a little jitter
    assert client.rate_limit_remaining is not None


async def test_429_with_too_long_retry_after_fails_fast(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, rate_limit={"limit": 1, "period_seconds": 600})
    async with sim.client(key, retry=RetryPolicy(max_retry_after=30)) as client:
        await client.users.page()
        with pytest.raises(DriftiRateLimitedError) as info:
            await client.users.page()
    assert info.value.retry_after is not None and info.value.retry_after > 30
    assert info.value.retryable and sim.sleeps.delays == []


async def test_5xx_is_retried_with_backoff_then_surfaces(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, fail_next=3, error_status=503)
    policy = RetryPolicy(max_attempts=4, backoff_base=0.1, backoff_max=1.0)
    async with sim.client(key, retry=policy) as client:
        created = await client.customers.create({"name": "Etter feil"})
        assert created.customer_number == "10001"
        assert len(sim.sleeps.delays) == 3 and all(0 <= d <= 1.0 for d in sim.sleeps.delays)

        await sim.faults(name, fail_next=10, error_status=500)
        with pytest.raises(DriftiServerError) as info:
            await client.invoices.list_all()
    assert info.value.status == 500 and info.value.retryable


async def test_retried_create_after_a_lost_answer_creates_once(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    # The server commits, then answers 502: only the Idempotency-Key prevents a twin.
    await sim.faults(name, fail_next=1, error_after_commit=True, error_status=502)
    async with sim.client(key) as client:
        created = await client.customers.create({"name": "Bare én"}, idempotency_key="command-42")
        assert [c.id for c in await client.customers.list_all()] == [created.id]


async def test_auth_error_transport_error_and_no_key_in_logs(
    sim: Sim, tenant: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name, key = tenant
    async with sim.client("drf_wrong") as bad:
        with pytest.raises(DriftiAuthError):
            await bad.me()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    caplog.set_level(logging.WARNING, logger="services.drifti.client")
    from services.drifti.client import DriftiClient as Client

    async with Client(
        BASE_URL,
        key,
        transport=httpx.MockTransport(refuse),
        sleep=sim.sleeps,
        retry=RetryPolicy(max_attempts=3, backoff_base=0.01),
    ) as broken:
        assert key not in repr(broken)
        with pytest.raises(DriftiTransportError) as info:
            await broken.jobs.list_all()
    assert info.value.retryable and len(sim.sleeps.delays) == 2
    assert key not in caplog.text and key not in str(info.value)
    await sim.faults(name, fail_next=1)
