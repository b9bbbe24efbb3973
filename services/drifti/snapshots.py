"""Drifti records as the engine's side-neutral snapshots (``contracts.entities``).

An invoice or payment snapshot embeds its customer (and an invoice its job) as they are when
the change is read, so the decision and the Tripletex writer have everything a voucher needs
(D-C1, D-J1, D-I1, D-P1) without reading Drifti again; the PDF is the only thing fetched later.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.entities import (
    CustomerSnapshot,
    InvoiceLineSnapshot,
    InvoiceSnapshot,
    JobSnapshot,
    PaymentSnapshot,
)
from contracts.envelope import EntityType
from services.drifti.client.models import Customer, Invoice, Job, Payment

DriftiRecord = Customer | Job | Invoice | Payment

OSLO = ZoneInfo("Europe/Oslo")

ENTITY_TYPE: dict[type, EntityType] = {
    Customer: EntityType.CUSTOMER,
    Job: EntityType.PROJECT,  # a job ("oppdrag") is a Tripletex project (D-J1)
    Invoice: EntityType.INVOICE,
    Payment: EntityType.PAYMENT,
}


def customer_snapshot(customer: Customer) -> CustomerSnapshot:
    return CustomerSnapshot(
        customer_number=customer.customer_number,
        name=customer.name,
        organization_number=customer.organization_number,
        email=customer.email,
        phone=customer.phone,
        address_line=customer.address_line1,
        postal_code=customer.postal_code,
        city=customer.city,
    )


def before_switch_on(invoice: Invoice, integration_enabled_at: datetime | None) -> bool:
    """D-S1: dated before the day the tenant switched the integration on (Norwegian time).

    An invoice dated the switch-on day itself is the integration's; anything older was booked
    by whoever kept the books before, so a payment or credit that touches it later must not
    make the engine book it a second time. Without a switch-on time, nothing is older.
    """
    if integration_enabled_at is None:
        return False
    boundary: date = integration_enabled_at.astimezone(OSLO).date()
    return invoice.invoice_date < boundary


def job_snapshot(job: Job, customer: Customer | None, integration_enabled_at: datetime | None) -> JobSnapshot:
    before = integration_enabled_at is not None and job.created_at < integration_enabled_at
    return JobSnapshot(
        job_number=job.job_number,
        title=job.title,
        status=job.status,
        start_date=job.created_at.date(),
        created_before_integration=before,
        customer=customer_snapshot(customer) if customer is not None else None,
    )


def invoice_snapshot(
    invoice: Invoice,
    customer: Customer,
    job: Job,
    integration_enabled_at: datetime | None,
    credited_invoice_number: int | None = None,
) -> InvoiceSnapshot:
    return InvoiceSnapshot(
        invoice_number=invoice.invoice_number,
        invoice_kind=invoice.kind,
        credited_invoice_number=credited_invoice_number,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        kid=invoice.kid,
        currency=invoice.currency,
        lines=tuple(
            InvoiceLineSnapshot(
                line_no=line.line_no,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
                ledger_account=line.ledger_account,
                net_amount=line.net_amount,
                vat_amount=line.vat_amount,
                gross_amount=line.gross_amount,
            )
            for line in invoice.lines
        ),
        net_amount=invoice.net_amount,
        vat_amount=invoice.vat_amount,
        gross_amount=invoice.gross_amount,
        outstanding_amount=invoice.outstanding_amount,
        status=invoice.status,
        customer=customer_snapshot(customer),
        job=job_snapshot(job, customer, integration_enabled_at),
        before_switch_on=before_switch_on(invoice, integration_enabled_at),
    )


def payment_snapshot(
    payment: Payment,
    invoice: Invoice,
    customer: Customer,
    job: Job | None,
    integration_enabled_at: datetime | None,
) -> PaymentSnapshot:
    return PaymentSnapshot(
        amount=payment.amount,
        payment_date=payment.payment_date,
        method=payment.method,
        kid=payment.kid,
        reference=payment.reference,
        invoice_id=invoice.id,
        invoice_number=invoice.invoice_number,
        customer=customer_snapshot(customer),
        job_number=job.job_number if job is not None else None,
        invoice_before_switch_on=before_switch_on(invoice, integration_enabled_at),
    )
