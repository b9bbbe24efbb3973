"""Side-neutral snapshots of the records the engine syncs.

Ingest maps each side's own shape (a Svenn project's ``display_id``, a Tripletex project's
``number``) into these, so the decision rules read one vocabulary and the writers map back.
Numbers are strings everywhere: project numbers may hold letters and dots (S-P6) and Svenn
customer ids may be non-numeric (S-C1), so nothing may parse them as integers on the way.

Bounds (``contracts.bounds``): references to other records (``Reference``) are ids, refused at
the edge when they hold a control character; what users type (``Text``) is only capped in
length here, and a record whose text cannot be stored or sent is rejected by the decision
(S-X2) with an error-log entry, never dropped at the edge.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.bounds import MAX_ITEMS, BigInt, Reference, Text

Amount = Annotated[Decimal, Field(max_digits=24, decimal_places=10)]


class _Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    # Svenn calls it "completed", Tripletex "closed" (isClosed=true): one state (S-P7).
    COMPLETED = "completed"


class ProjectSnapshot(_Snapshot):
    kind: Literal["project"] = "project"
    number: Text | None = None
    name: Text
    start_date: date | None = None
    end_date: date | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    is_internal: bool = False
    parent_id: Reference | None = None
    customer_id: Reference | None = None
    member_ids: Annotated[tuple[Reference, ...], Field(max_length=MAX_ITEMS)] = ()


class CustomerSnapshot(_Snapshot):
    kind: Literal["customer"] = "customer"
    customer_number: Text | None = None
    name: Text
    organization_number: Text | None = None
    email: Text | None = None
    phone: Text | None = None
    address_line: Text | None = None
    postal_code: Text | None = None
    city: Text | None = None
    active: bool = True
    invoice_send_method: Text | None = None


class EmployeeSnapshot(_Snapshot):
    kind: Literal["employee"] = "employee"
    employee_number: Text | None = None
    first_name: Text
    last_name: Text | None = None
    email: Text | None = None
    phone: Text | None = None
    active: bool = True


# --------------------------------------------------------------------------- Drifti (Part 2)
# One-way records: what Tripletex needs to book them, self-contained. The ingest embeds the
# invoice's customer and job, so the writer can find-or-create both (D-C1, D-J1/D-J2) without
# reading Drifti again. Money is Decimal (øre, two decimals): a float would move an øre.


class JobSnapshot(_Snapshot):
    """A Drifti job ("oppdrag"), entity type PROJECT: its number becomes the project number."""

    kind: Literal["job"] = "job"
    job_number: Text
    title: Text
    status: Literal["open", "closed"] = "open"
    start_date: date | None = None
    # Created before the tenant switched the integration on (D-J1: its project comes later,
    # with its first invoice or hours).
    created_before_integration: bool = False
    customer: CustomerSnapshot | None = None


class InvoiceLineSnapshot(_Snapshot):
    line_no: BigInt
    description: Text
    quantity: Amount
    unit_price: Amount
    vat_rate: BigInt
    # Drifti's account number; the decision adds the mapped Tripletex account (D-L1).
    ledger_account: Text
    tripletex_account: Text | None = None
    net_amount: Amount
    vat_amount: Amount
    gross_amount: Amount


class InvoiceSnapshot(_Snapshot):
    """A Drifti invoice or credit note (credit notes have negative lines and amounts)."""

    kind: Literal["invoice"] = "invoice"
    invoice_number: BigInt
    invoice_kind: Literal["invoice", "credit_note"] = "invoice"
    credited_invoice_number: BigInt | None = None
    invoice_date: date
    due_date: date
    kid: Text | None = None
    currency: Text = "NOK"
    lines: Annotated[tuple[InvoiceLineSnapshot, ...], Field(max_length=MAX_ITEMS)]
    net_amount: Amount
    vat_amount: Amount
    gross_amount: Amount
    outstanding_amount: Amount = Decimal("0.00")
    status: Text = "unpaid"
    customer: CustomerSnapshot
    job: JobSnapshot
    # Dated before the tenant switched the integration on (D-S1): booked before, never by the engine.
    before_switch_on: bool = False


class PaymentSnapshot(_Snapshot):
    """A payment on a Drifti invoice, by KID/OCR or registered by hand."""

    kind: Literal["payment"] = "payment"
    amount: Amount
    payment_date: date
    method: Literal["kid", "manual"]
    kid: Text | None = None
    reference: Text | None = None
    invoice_id: Reference
    invoice_number: BigInt
    customer: CustomerSnapshot
    job_number: Text | None = None
    # Its invoice is dated before the switch-on, so the engine never booked it (D-S1): neither is this.
    invoice_before_switch_on: bool = False


EntitySnapshot = Annotated[
    ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot | JobSnapshot | InvoiceSnapshot | PaymentSnapshot,
    Field(discriminator="kind"),
]
