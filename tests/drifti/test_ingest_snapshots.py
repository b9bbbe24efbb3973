"""Drifti records as change events (``services/drifti/ingest.py``): what the D-rules read.

Against the simulator's demo month: invoice and payment snapshots carry their customer and job,
a credit note names the invoice it credits, jobs from before the switch-on are marked (D-J1),
and the same record version always gives the same event id.
"""

from __future__ import annotations

from contracts.entities import InvoiceSnapshot, JobSnapshot, PaymentSnapshot
from contracts.envelope import ChangeKind, EntityType
from services.drifti.ingest import DriftiReader, event_of
from services.drifti.simulator.testing import Sim


async def test_D_I1_D_J1_D_P1_snapshots_embed_what_tripletex_needs(sim: Sim) -> None:
    _, key = await sim.tenant(demo={"seed": 1, "month": "2026-10"})
    async with sim.client(key) as client:
        reader = DriftiReader(client)
        enabled_at = (await client.me()).integration_enabled_at
        assert enabled_at is not None
        jobs = await client.jobs.list_all()
        for job in jobs:
            event = await event_of(reader, "acme", job)
            assert event.entity_type is EntityType.PROJECT and isinstance(event.snapshot, JobSnapshot)
            assert event.snapshot.created_before_integration == (job.created_at < enabled_at)
        assert sum(1 for j in jobs if j.created_at < enabled_at) == 4  # three open, one closed long ago

        invoices = await client.invoices.list_all()
        credit = next(i for i in invoices if i.kind == "credit_note")
        event = await event_of(reader, "acme", credit)
        snapshot = event.snapshot
        assert isinstance(snapshot, InvoiceSnapshot) and event.entity_type is EntityType.INVOICE
        original = next(i for i in invoices if i.id == credit.credited_invoice_id)
        assert snapshot.credited_invoice_number == original.invoice_number
        assert snapshot.gross_amount == credit.gross_amount < 0
        customer = await client.customers.get(credit.customer_id)
        assert snapshot.customer.customer_number == customer.customer_number
        assert snapshot.job.job_number == (await client.jobs.get(credit.job_id)).job_number
        assert [line.tripletex_account for line in snapshot.lines] == [None]  # the decision maps (D-L1)

        payment = (await client.payments.list_all())[0]
        paid = await event_of(reader, "acme", payment)
        assert isinstance(paid.snapshot, PaymentSnapshot) and paid.entity_type is EntityType.PAYMENT
        assert paid.snapshot.amount == payment.amount and paid.snapshot.method == payment.method
        # Same version, same event (a webhook and a poll of it are one change downstream).
        again = await event_of(DriftiReader(client), "acme", payment)
        assert again.event_id == paid.event_id and again.change_kind is ChangeKind.CREATED


async def test_D_S1_invoice_dated_before_the_switch_on_and_its_later_payment_are_marked(sim: Sim) -> None:
    from datetime import timedelta
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from services.drifti.client.models import InvoiceCreate, InvoiceLineCreate, PaymentCreate

    _, key = await sim.tenant(demo={"seed": 1, "month": "2026-10"})
    async with sim.client(key) as client:
        enabled_at = (await client.me()).integration_enabled_at
        assert enabled_at is not None
        switch_on_day = enabled_at.astimezone(ZoneInfo("Europe/Oslo")).date()
        demo_invoices = await client.invoices.list_all()
        job = (await client.jobs.list_all())[0]
        line = InvoiceLineCreate.model_validate(
            {
                "description": "Gammel jobb",
                "quantity": "1",
                "unit_price": "1000",
                "ledger_account": "3000",
                "vat_rate": 25,
            }
        )
        old = await client.invoices.create(
            InvoiceCreate(job_id=job.id, invoice_date=switch_on_day - timedelta(days=3), lines=[line])
        )
        paid = await client.payments.create(
            PaymentCreate(
                invoice_id=old.id, amount=Decimal("1250.00"), payment_date=switch_on_day, method="manual"
            )
        )
        reader = DriftiReader(client)
        invoice_event = await event_of(reader, "acme", old)
        payment_event = await event_of(reader, "acme", paid)
        assert isinstance(invoice_event.snapshot, InvoiceSnapshot)
        assert isinstance(payment_event.snapshot, PaymentSnapshot)
        assert invoice_event.snapshot.before_switch_on is True
        assert payment_event.snapshot.invoice_before_switch_on is True
        # The demo month's invoices are all from the switch-on day on: none is marked.
        for record in demo_invoices:
            event = await event_of(reader, "acme", record)
            assert isinstance(event.snapshot, InvoiceSnapshot) and event.snapshot.before_switch_on is False
            assert record.invoice_date >= switch_on_day
