"""Side-neutral snapshots of the records the engine syncs.

Ingest maps each side's own shape (a Svenn project's ``display_id``, a Tripletex project's
``number``) into these, so the decision rules read one vocabulary and the writers map back.
Numbers are strings everywhere: project numbers may hold letters and dots (S-P6) and Svenn
customer ids may be non-numeric (S-C1), so nothing may parse them as integers on the way.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    # Svenn calls it "completed", Tripletex "closed" (isClosed=true): one state (S-P7).
    COMPLETED = "completed"


class ProjectSnapshot(_Snapshot):
    kind: Literal["project"] = "project"
    number: str | None = None
    name: str
    start_date: date | None = None
    end_date: date | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    is_internal: bool = False
    parent_id: str | None = None
    customer_id: str | None = None
    member_ids: tuple[str, ...] = ()


class CustomerSnapshot(_Snapshot):
    kind: Literal["customer"] = "customer"
    customer_number: str | None = None
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line: str | None = None
    postal_code: str | None = None
    city: str | None = None
    active: bool = True
    invoice_send_method: str | None = None


class EmployeeSnapshot(_Snapshot):
    kind: Literal["employee"] = "employee"
    employee_number: str | None = None
    first_name: str
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    active: bool = True


# --------------------------------------------------------------------------- Drifti (Part 2)
# One-way records: what Tripletex needs to book them, self-contained. The ingest embeds the
# invoice's customer and job, so the writer can find-or-create both (D-C1, D-J1/D-J2) without
# reading Drifti again. Money is Decimal (øre, two decimals): a float would move an øre.


class JobSnapshot(_Snapshot):
    """A Drifti job ("oppdrag"), entity type PROJECT: its number becomes the project number."""

    kind: Literal["job"] = "job"
    job_number: str
    title: str
    status: Literal["open", "closed"] = "open"
    start_date: date | None = None
    # Created before the tenant switched the integration on (D-J1: its project comes later,
    # with its first invoice or hours).
    created_before_integration: bool = False
    customer: CustomerSnapshot | None = None


class InvoiceLineSnapshot(_Snapshot):
    line_no: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: int
    # Drifti's account number; the decision adds the mapped Tripletex account (D-L1).
    ledger_account: str
    tripletex_account: str | None = None
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal


class InvoiceSnapshot(_Snapshot):
    """A Drifti invoice or credit note (credit notes have negative lines and amounts)."""

    kind: Literal["invoice"] = "invoice"
    invoice_number: int
    invoice_kind: Literal["invoice", "credit_note"] = "invoice"
    credited_invoice_number: int | None = None
    invoice_date: date
    due_date: date
    kid: str | None = None
    currency: str = "NOK"
    lines: tuple[InvoiceLineSnapshot, ...]
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal
    outstanding_amount: Decimal = Decimal("0.00")
    status: str = "unpaid"
    customer: CustomerSnapshot
    job: JobSnapshot
    # Dated before the tenant switched the integration on (D-S1): booked before, never by the engine.
    before_switch_on: bool = False


class PaymentSnapshot(_Snapshot):
    """A payment on a Drifti invoice, by KID/OCR or registered by hand."""

    kind: Literal["payment"] = "payment"
    amount: Decimal
    payment_date: date
    method: Literal["kid", "manual"]
    kid: str | None = None
    reference: str | None = None
    invoice_id: str
    invoice_number: int
    customer: CustomerSnapshot
    job_number: str | None = None
    # Its invoice is dated before the switch-on, so the engine never booked it (D-S1): neither is this.
    invoice_before_switch_on: bool = False


EntitySnapshot = Annotated[
    ProjectSnapshot | CustomerSnapshot | EmployeeSnapshot | JobSnapshot | InvoiceSnapshot | PaymentSnapshot,
    Field(discriminator="kind"),
]
