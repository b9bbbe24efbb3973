"""The simulator's resource shapes: what it stores and returns, and what it accepts.

Money is ``Decimal`` end to end and travels as a JSON string (``"1250.00"``): a float would
turn øre into rounding noise, and the engine books these amounts. Request bodies forbid
unknown fields so a typo is a 422 rather than a silently ignored field. Stored records
carry ``seq`` (creation order, never returned) for stable cursors.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

VatRate = Literal[25, 15, 12, 0]
JobStatus = Literal["open", "closed"]
InvoiceKind = Literal["invoice", "credit_note"]
# Invoices move unpaid -> partially_paid -> paid (or -> credited); credit notes are `issued`.
InvoiceStatus = Literal["unpaid", "partially_paid", "paid", "credited", "issued"]
PaymentMethod = Literal["kid", "manual"]
ApprovalStatus = Literal["pending", "approved", "rejected"]
Day = date  # time entries have a field named `date`; the alias keeps the type visible there

# Customer and job numbers are digits only in Drifti (the Tripletex customer/project number
# they are matched on, D-C1/D-J2); leading zeros are kept, so they stay strings.
Digits = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,10}$")]
AccountNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{3,6}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)]
OrgNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{9}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
Quantity = Annotated[Decimal, Field(max_digits=12, decimal_places=3)]
Hours = Annotated[Decimal, Field(gt=0, le=24, decimal_places=2)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerRecord(_Record):
    id: str
    customer_number: str
    name: str
    organization_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line1: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country_code: str = "NO"
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class JobRecord(_Record):
    id: str
    job_number: str
    title: str
    customer_id: str
    status: JobStatus = "open"
    description: str | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class InvoiceLine(_Record):
    line_no: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: VatRate
    ledger_account: str
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal


class InvoiceRecord(_Record):
    id: str
    invoice_number: int
    kind: InvoiceKind = "invoice"
    credited_invoice_id: str | None = None
    job_id: str
    customer_id: str
    invoice_date: date
    due_date: date
    kid: str | None = None
    currency: Literal["NOK"] = "NOK"
    lines: list[InvoiceLine]
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal
    credited_amount: Decimal = Decimal("0.00")
    paid_amount: Decimal = Decimal("0.00")
    outstanding_amount: Decimal = Decimal("0.00")
    status: InvoiceStatus = "unpaid"
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class PaymentRecord(_Record):
    id: str
    invoice_id: str
    customer_id: str
    amount: Decimal
    payment_date: date
    method: PaymentMethod
    kid: str | None = None
    reference: str | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class UserRecord(_Record):
    id: str
    name: str
    email: str
    employee_number: str | None = None
    active: bool = True
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class HourlyRateRecord(_Record):
    id: str
    name: str
    price_per_hour: Decimal
    active: bool = True
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class TimeEntryRecord(_Record):
    id: str
    user_id: str
    job_id: str
    hourly_rate_id: str
    date: Day
    hours: Decimal
    description: str | None = None
    status: ApprovalStatus = "pending"
    approved_at: datetime | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


class LedgerAccountRecord(_Record):
    id: str
    number: str
    name: str
    default_vat_rate: VatRate | None = None
    active: bool = True
    version: int = 1
    created_at: datetime
    updated_at: datetime
    seq: int = Field(default=0, exclude=True)


# ---------------------------------------------------------------------- request bodies
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerCreate(_Body):
    customer_number: Digits | None = None
    name: Name
    organization_number: OrgNumber | None = None
    email: Email | None = None
    phone: Phone | None = None
    address_line1: ShortText | None = None
    postal_code: PostalCode | None = None
    city: ShortText | None = None
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "NO"


class CustomerPatch(_Body):
    customer_number: Digits | None = None
    name: Name | None = None
    organization_number: OrgNumber | None = None
    email: Email | None = None
    phone: Phone | None = None
    address_line1: ShortText | None = None
    postal_code: PostalCode | None = None
    city: ShortText | None = None
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class JobCreate(_Body):
    job_number: Digits | None = None
    title: Name
    customer_id: str
    status: JobStatus = "open"
    description: LongText | None = None


class JobPatch(_Body):
    title: Name | None = None
    status: JobStatus | None = None
    description: LongText | None = None


class InvoiceLineCreate(_Body):
    description: Name
    quantity: Quantity
    unit_price: Money
    ledger_account: AccountNumber
    vat_rate: VatRate | None = None  # default: the ledger account's default_vat_rate


class InvoiceCreate(_Body):
    job_id: str | None = None  # required for invoices; credit notes take the original's
    credited_invoice_id: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    lines: list[InvoiceLineCreate] = Field(min_length=1, max_length=200)


class PaymentCreate(_Body):
    invoice_id: str | None = None  # required for manual payments; KID payments may give kid only
    amount: PositiveMoney
    payment_date: date
    method: PaymentMethod
    kid: Annotated[str, StringConstraints(pattern=r"^\d{2,25}$")] | None = None
    reference: ShortText | None = None


class UserCreate(_Body):
    name: Name
    email: Email
    employee_number: Digits | None = None
    active: bool = True


class UserPatch(_Body):
    name: Name | None = None
    email: Email | None = None
    employee_number: Digits | None = None
    active: bool | None = None


class HourlyRateCreate(_Body):
    name: Name
    price_per_hour: PositiveMoney
    active: bool = True


class HourlyRatePatch(_Body):
    name: Name | None = None
    price_per_hour: PositiveMoney | None = None
    active: bool | None = None


class TimeEntryCreate(_Body):
    user_id: str
    job_id: str
    hourly_rate_id: str
    date: Day
    hours: Hours
    description: LongText | None = None
    status: ApprovalStatus = "pending"


class TimeEntryPatch(_Body):
    job_id: str | None = None
    hourly_rate_id: str | None = None
    date: Day | None = None
    hours: Hours | None = None
    description: LongText | None = None
    status: ApprovalStatus | None = None


class LedgerAccountCreate(_Body):
    number: AccountNumber
    name: Name
    default_vat_rate: VatRate | None = None


STREAMED = ("customer", "job", "invoice", "payment")
WebhookEventType = Annotated[
    str, StringConstraints(pattern=r"^(\*|(customer|job|invoice|payment)\.(\*|created|updated))$")
]


class WebhookCreate(_Body):
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = None
    event_types: list[WebhookEventType] = Field(default_factory=lambda: ["*"], min_length=1)
    description: ShortText | None = None


class WebhookRecord(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    active: bool = True
    created_at: datetime
    secret: str = Field(exclude=True)

    def wants(self, event_type: str) -> bool:
        resource = event_type.split(".", 1)[0]
        return any(t in ("*", event_type, f"{resource}.*") for t in self.event_types)
