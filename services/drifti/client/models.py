"""Typed shapes of Drifti's resources as the client sees them.

Response models ignore unknown fields, so Drifti adding a field never breaks a running
engine; request models forbid them, so a typo in our code fails here rather than as a 422.
Money and hours are ``Decimal`` (Drifti sends them as strings): the engine books these
amounts in Tripletex, and a float would change them by an øre now and then.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

VatRate = Literal[25, 15, 12, 0]
JobStatus = Literal["open", "closed"]
InvoiceKind = Literal["invoice", "credit_note"]
InvoiceStatus = Literal["unpaid", "partially_paid", "paid", "credited", "issued"]
PaymentMethod = Literal["kid", "manual"]
ApprovalStatus = Literal["pending", "approved", "rejected"]
StreamedType = Literal["customer", "job", "invoice", "payment"]
Day = date  # TimeEntry has a field named `date`; the alias keeps the type visible there


class Record(BaseModel):
    """Fields every Drifti record has; ``version`` tells a newer event from an older one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime


class Customer(Record):
    customer_number: str
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str = "NO"


class Job(Record):
    job_number: str
    title: str
    customer_id: str
    status: JobStatus = "open"
    description: str | None = None


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    line_no: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: VatRate
    ledger_account: str
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal


class Invoice(Record):
    invoice_number: int
    kind: InvoiceKind = "invoice"
    credited_invoice_id: str | None = None
    job_id: str
    customer_id: str
    invoice_date: date
    due_date: date
    kid: str | None = None
    currency: str = "NOK"
    lines: tuple[InvoiceLine, ...]
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal
    credited_amount: Decimal = Decimal("0.00")
    paid_amount: Decimal = Decimal("0.00")
    outstanding_amount: Decimal = Decimal("0.00")
    status: InvoiceStatus = "unpaid"

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "credit_note"


class Payment(Record):
    invoice_id: str
    customer_id: str
    amount: Decimal
    payment_date: date
    method: PaymentMethod
    kid: str | None = None
    reference: str | None = None


class User(Record):
    name: str
    email: str
    employee_number: str | None = None
    active: bool = True


class HourlyRate(Record):
    name: str
    price_per_hour: Decimal
    active: bool = True


class TimeEntry(Record):
    user_id: str
    job_id: str
    hourly_rate_id: str
    date: Day
    hours: Decimal
    description: str | None = None
    status: ApprovalStatus = "pending"
    approved_at: AwareDatetime | None = None


class LedgerAccount(Record):
    number: str
    name: str
    default_vat_rate: VatRate | None = None
    active: bool = True


class Me(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: str
    company_name: str
    currency: str = "NOK"
    integration_enabled_at: AwareDatetime | None = None


M = TypeVar("M")


class Page(BaseModel, Generic[M]):
    data: list[M]
    has_more: bool
    next_cursor: str | None = None


# ---------------------------------------------------------------------------- writes
class _Write(BaseModel):
    """Only fields the caller set are sent (``exclude_unset``): None means "clear it"."""

    model_config = ConfigDict(extra="forbid")


class CustomerCreate(_Write):
    customer_number: str | None = None
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str | None = None


class CustomerUpdate(_Write):
    customer_number: str | None = None
    name: str | None = None
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str | None = None


class JobCreate(_Write):
    job_number: str | None = None
    title: str
    customer_id: str
    status: JobStatus = "open"
    description: str | None = None


class JobUpdate(_Write):
    title: str | None = None
    status: JobStatus | None = None
    description: str | None = None


class InvoiceLineCreate(_Write):
    description: str
    quantity: Decimal
    unit_price: Decimal
    ledger_account: str
    vat_rate: VatRate | None = None


class InvoiceCreate(_Write):
    job_id: str | None = None
    credited_invoice_id: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    lines: list[InvoiceLineCreate]


class PaymentCreate(_Write):
    invoice_id: str | None = None
    amount: Decimal
    payment_date: date
    method: PaymentMethod
    kid: str | None = None
    reference: str | None = None


class UserCreate(_Write):
    name: str
    email: str
    employee_number: str | None = None
    active: bool = True


class UserUpdate(_Write):
    name: str | None = None
    email: str | None = None
    employee_number: str | None = None
    active: bool | None = None


class HourlyRateCreate(_Write):
    name: str
    price_per_hour: Decimal
    active: bool = True


class HourlyRateUpdate(_Write):
    name: str | None = None
    price_per_hour: Decimal | None = None
    active: bool | None = None


class TimeEntryCreate(_Write):
    user_id: str
    job_id: str
    hourly_rate_id: str
    date: Day
    hours: Decimal
    description: str | None = None
    status: ApprovalStatus = "pending"


class TimeEntryUpdate(_Write):
    job_id: str | None = None
    hourly_rate_id: str | None = None
    date: Day | None = None
    hours: Decimal | None = None
    description: str | None = None
    status: ApprovalStatus | None = None


class LedgerAccountCreate(_Write):
    number: str
    name: str
    default_vat_rate: VatRate | None = None


# -------------------------------------------------------------------------- webhooks
class WebhookSubscription(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    url: str
    event_types: tuple[str, ...] = ("*",)
    description: str | None = None
    active: bool = True
    created_at: AwareDatetime | None = None
    # Present only in the response that created the subscription with a generated secret.
    secret: str | None = Field(default=None, repr=False)


class WebhookEvent(BaseModel):
    """One change notification, as POSTed by Drifti (after its signature was verified)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    event_type: str
    occurred_at: AwareDatetime
    tenant: str
    resource_type: StreamedType
    resource_id: str
    resource_version: int
    data: dict[str, Any]

    @property
    def change(self) -> str:
        """``created`` or ``updated``."""
        return self.event_type.split(".", 1)[1]

    def record(self) -> Customer | Job | Invoice | Payment:
        """The changed record as of ``resource_version``, typed by ``resource_type``."""
        if self.resource_type == "customer":
            return Customer.model_validate(self.data)
        if self.resource_type == "job":
            return Job.model_validate(self.data)
        if self.resource_type == "invoice":
            return Invoice.model_validate(self.data)
        return Payment.model_validate(self.data)
