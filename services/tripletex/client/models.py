"""Typed Tripletex v2 objects (the subset the sync engine reads and writes).

Field names follow the spec (openapi.json 2.74.00) in snake_case; the wire names are the
camelCase aliases. Three rules shape these classes:

* **Reads are lenient** (``extra="allow"``): a field Tripletex adds tomorrow, or one asked for
  with ``fields=``, is kept in ``model_extra`` instead of breaking the sync.
* **Writes are strict** (:func:`write_body`): only declared, explicitly set, non-null,
  non-read-only fields are sent. Tripletex answers an unknown field with 422 "Feltet
  eksisterer ikke i objektet", and a POST carrying ``id``/``version`` is rejected.
* Numbers that are identifiers but not integers stay strings: a project number may be
  ``2024.17`` or ``A12.3`` (S-P6), an employee or activity number is a string in the spec.
  Money and hours are :class:`~decimal.Decimal` (sent as JSON numbers).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel


class _ReadOnly:
    """Marker for fields Tripletex computes; :func:`write_body` never sends them."""

    def __repr__(self) -> str:
        return "ReadOnly"


READ_ONLY = _ReadOnly()


def _decimal_json(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


Amount = Annotated[Decimal, PlainSerializer(_decimal_json, when_used="json")]


def _blank_to_none(value: Any) -> Any:
    """Tripletex returns unset strings as ``""``, also for dates and enums (tripletex-go README)."""
    return None if value == "" else value


BLANK = BeforeValidator(_blank_to_none)
OptDate = Annotated[dt.date | None, BLANK]


# Enums from the spec. Wrapped in ``Annotated[... | None, BLANK]`` where used, since "" means unset.
UserType = Literal["STANDARD", "EXTENDED", "NO_ACCESS"]
Language = Literal["NO", "EN"]
InvoiceSendMethod = Literal["EMAIL", "EHF", "EFAKTURA", "AVTALEGIRO", "VIPPS", "PAPER", "MANUAL"]
EmailAttachmentType = Literal["LINK", "ATTACHMENT"]
DueInType = Literal["DAYS", "MONTHS", "RECURRING_DAY_OF_MONTH"]
ActivityType = Literal["GENERAL_ACTIVITY", "PROJECT_GENERAL_ACTIVITY", "PROJECT_SPECIFIC_ACTIVITY", "TASK"]


class TripletexModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class Change(TripletexModel):
    employee_id: int | None = None
    timestamp: str | None = None
    change_type: str | None = None


class Entity(TripletexModel):
    """Anything Tripletex persists: it has an ``id`` and an optimistic-locking ``version``."""

    id: int | None = None
    version: int | None = None
    url: Annotated[str | None, READ_ONLY] = None
    changes: Annotated[list[Change] | None, READ_ONLY] = None


class Ref(Entity):
    """A link to an existing object: Tripletex wants just ``{"id": N}``."""

    @classmethod
    def to(cls, id: int) -> Ref:
        return cls(id=id)


class Address(Entity):
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: Ref | None = None


class Department(Entity):
    name: str | None = None
    department_number: str | None = None


class Employee(Entity):
    first_name: str | None = None
    last_name: str | None = None
    display_name: Annotated[str | None, READ_ONLY] = None
    employee_number: str | None = None
    date_of_birth: OptDate = None
    email: str | None = None
    phone_number_mobile: str | None = None
    user_type: Annotated[UserType | None, BLANK] = None
    department: Ref | None = None
    address: Address | None = None
    is_contact: bool | None = None
    allow_information_registration: Annotated[bool | None, READ_ONLY] = None
    comments: str | None = None


class Customer(Entity):
    name: str | None = None
    organization_number: str | None = None
    customer_number: int | None = Field(default=None, ge=0)
    supplier_number: int | None = None
    is_supplier: bool | None = None
    is_customer: Annotated[bool | None, READ_ONLY] = None
    is_inactive: bool | None = None
    is_private_individual: bool | None = None
    account_manager: Ref | None = None
    department: Ref | None = None
    email: str | None = None
    invoice_email: str | None = None
    overdue_notice_email: str | None = None
    phone_number: str | None = None
    phone_number_mobile: str | None = None
    description: str | None = None
    language: Annotated[Language | None, BLANK] = None
    single_customer_invoice: bool | None = None
    invoice_send_method: Annotated[
        Literal["EMAIL", "EHF", "EFAKTURA", "AVTALEGIRO", "VIPPS", "PAPER", "MANUAL"] | None, BLANK
    ] = None
    email_attachment_type: Annotated[EmailAttachmentType | None, BLANK] = None
    postal_address: Address | None = None
    physical_address: Address | None = None
    invoices_due_in: int | None = None
    invoices_due_in_type: Annotated[DueInType | None, BLANK] = None
    currency: Ref | None = None
    ledger_account: Ref | None = None
    website: str | None = None


class Activity(Entity):
    name: str | None = None
    number: str | None = None
    description: str | None = None
    activity_type: Annotated[
        Literal["GENERAL_ACTIVITY", "PROJECT_GENERAL_ACTIVITY", "PROJECT_SPECIFIC_ACTIVITY", "TASK"] | None,
        BLANK,
    ] = None
    is_project_activity: Annotated[bool | None, READ_ONLY] = None
    is_general: Annotated[bool | None, READ_ONLY] = None
    is_task: Annotated[bool | None, READ_ONLY] = None
    is_disabled: Annotated[bool | None, READ_ONLY] = None
    is_chargeable: bool | None = None
    rate: Amount | None = None
    cost_percentage: Amount | None = None
    display_name: str | None = None
    deletable: Annotated[bool | None, READ_ONLY] = None


class ProjectParticipant(Entity):
    project: Ref | None = None
    employee: Ref | None = None
    admin_access: bool | None = None


class ProjectActivity(Entity):
    activity: Activity | None = None  # {"id": N} to link, or an inline new activity
    project: Ref | None = None
    start_date: OptDate = None
    end_date: OptDate = None
    is_closed: bool | None = None
    budget_hours: Amount | None = None
    budget_hourly_rate_currency: Amount | None = None
    budget_fee_currency: Amount | None = None


HourlyRateModel = Literal[
    "TYPE_PREDEFINED_HOURLY_RATES", "TYPE_PROJECT_SPECIFIC_HOURLY_RATES", "TYPE_FIXED_HOURLY_RATE"
]


class ProjectSpecificRate(Entity):
    hourly_rate: Amount | None = None
    hourly_cost_percentage: Amount | None = None
    project_hourly_rate: Ref | None = None
    employee: Ref | None = None
    activity: Ref | None = None


class ProjectHourlyRate(Entity):
    project: Ref | None = None
    start_date: OptDate = None
    show_in_project_order: bool | None = None
    hourly_rate_model: Annotated[HourlyRateModel | None, BLANK] = None
    project_specific_rates: list[ProjectSpecificRate] | None = None
    fixed_rate: Amount | None = None


class Project(Entity):
    name: str | None = None
    number: str | None = None
    display_name: Annotated[str | None, READ_ONLY] = None
    description: str | None = None
    project_manager: Ref | None = None
    department: Ref | None = None
    main_project: Ref | None = None
    start_date: OptDate = None
    end_date: OptDate = None
    customer: Ref | None = None
    is_closed: bool | None = None
    is_ready_for_invoicing: bool | None = None
    is_internal: bool | None = None
    is_offer: bool | None = None
    is_fixed_price: bool | None = None
    fixedprice: Amount | None = None  # sic: lower-case p in the API; "fixedPrice" is a 422
    reference: str | None = None
    external_accounts_number: str | None = None
    vat_type: Ref | None = None
    currency: Ref | None = None
    for_participants_only: bool | None = None
    participants: list[ProjectParticipant] | None = None
    general_project_activities_per_project_only: bool | None = None
    project_activities: list[ProjectActivity] | None = None
    project_hourly_rates: list[ProjectHourlyRate] | None = None
    invoice_comment: str | None = None
    customer_name: Annotated[str | None, READ_ONLY] = None
    number_of_project_participants: Annotated[int | None, READ_ONLY] = None


class TimesheetEntry(Entity):
    project: Ref | None = None
    activity: Ref | None = None
    date: OptDate = None
    hours: Amount | None = None
    employee: Ref | None = None
    comment: str | None = None
    project_chargeable_hours: Amount | None = None
    chargeable_hours: Annotated[Amount | None, READ_ONLY] = None
    chargeable: Annotated[bool | None, READ_ONLY] = None
    locked: Annotated[bool | None, READ_ONLY] = None
    hourly_rate: Annotated[Amount | None, READ_ONLY] = None
    hourly_cost: Annotated[Amount | None, READ_ONLY] = None

    def natural_key(self) -> tuple[int | None, dt.date | None, int | None, int | None]:
        """(employee, date, activity, project): Tripletex allows one entry per combination."""
        return (
            self.employee.id if self.employee else None,
            self.date,
            self.activity.id if self.activity else None,
            self.project.id if self.project else None,
        )


LedgerType = Literal["GENERAL", "CUSTOMER", "VENDOR", "EMPLOYEE", "ASSET"]


class Account(Entity):
    number: int | None = None
    name: str | None = None
    description: str | None = None
    type: Annotated[str | None, READ_ONLY] = None
    ledger_type: Annotated[LedgerType | None, BLANK] = None
    vat_type: Ref | None = None
    vat_locked: bool | None = None
    is_inactive: bool | None = None
    is_bank_account: bool | None = None
    requires_department: bool | None = None
    requires_project: bool | None = None
    currency: Ref | None = None


class VatType(Entity):
    name: str | None = None
    number: str | None = None
    display_name: str | None = None
    percentage: Amount | None = None
    deduction_percentage: Amount | None = None


class VoucherType(Entity):
    name: str | None = None
    display_name: str | None = None


class PaymentType(Entity):
    description: str | None = None
    display_name: str | None = None
    debit_account: Ref | None = None
    credit_account: Ref | None = None


class Posting(Entity):
    date: OptDate = None
    description: str | None = None
    account: Ref | None = None
    customer: Ref | None = None
    supplier: Ref | None = None
    employee: Ref | None = None
    project: Ref | None = None
    department: Ref | None = None
    product: Ref | None = None
    vat_type: Ref | None = None
    amount: Amount | None = None
    amount_currency: Amount | None = None
    amount_gross: Amount | None = None
    amount_gross_currency: Amount | None = None
    currency: Ref | None = None
    invoice_number: str | None = None
    term_of_payment: OptDate = None
    row: int | None = Field(default=None, ge=0)
    close_group: Annotated[Ref | None, READ_ONLY] = None
    type: Annotated[str | None, READ_ONLY] = None
    system_generated: Annotated[bool | None, READ_ONLY] = None
    matched: Annotated[bool | None, READ_ONLY] = None
    external_ref: Annotated[str | None, READ_ONLY] = None


class Voucher(Entity):
    date: OptDate = None
    number: Annotated[int | None, READ_ONLY] = None
    temp_number: Annotated[int | None, READ_ONLY] = None
    year: Annotated[int | None, READ_ONLY] = None
    description: str | None = None
    voucher_type: Ref | None = None
    reverse_voucher: Annotated[Ref | None, READ_ONLY] = None
    postings: list[Posting] | None = None
    document: Annotated[Ref | None, READ_ONLY] = None
    attachment: Annotated[Ref | None, READ_ONLY] = None
    external_voucher_number: str | None = Field(default=None, max_length=70)
    vendor_invoice_number: str | None = None


class Invoice(Entity):
    """Only what payment booking needs; the full Invoice object is much larger."""

    invoice_number: int | None = None
    invoice_date: OptDate = None
    invoice_due_date: OptDate = None
    customer: Ref | None = None
    kid: str | None = None
    voucher: Ref | None = None
    amount: Annotated[Amount | None, READ_ONLY] = None
    amount_currency: Annotated[Amount | None, READ_ONLY] = None
    amount_outstanding: Annotated[Amount | None, READ_ONLY] = None
    amount_currency_outstanding: Annotated[Amount | None, READ_ONLY] = None
    amount_outstanding_total: Annotated[Amount | None, READ_ONLY] = None
    postings: Annotated[list[Posting] | None, READ_ONLY] = None
    is_charged: Annotated[bool | None, READ_ONLY] = None
    is_credit_note: Annotated[bool | None, READ_ONLY] = None


class LoggedInUserInfo(TripletexModel):
    employee_id: int | None = None
    actual_employee_id: int | None = None
    company_id: int | None = None
    language: str | None = None


# --- write bodies -------------------------------------------------------------------------


def _is_read_only(model: type[BaseModel], name: str) -> bool:
    return any(m is READ_ONLY for m in model.model_fields[name].metadata)


def _strip(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cls = type(model)
    for name, info in cls.model_fields.items():
        key = info.alias or name
        if name not in model.model_fields_set or key not in dumped or _is_read_only(cls, name):
            continue
        value = getattr(model, name)
        raw = dumped[key]
        if isinstance(value, BaseModel):
            out[key] = _strip(value, raw)
        elif isinstance(value, list):
            out[key] = [
                _strip(item, item_raw) if isinstance(item, BaseModel) else item_raw
                for item, item_raw in zip(value, raw, strict=True)
            ]
        else:
            out[key] = raw
    return out


def write_body(model: BaseModel, *, for_create: bool = False) -> dict[str, Any]:
    """The JSON body to send for ``model``: set, non-null, writable, declared fields only.

    ``for_create`` drops the top-level ``id`` and ``version`` (Tripletex: "ID kan ikke settes
    når man oppretter et objekt"); nested ``{"id": N}`` references are kept.
    """
    dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    body = _strip(model, dumped)
    if for_create:
        body.pop("id", None)
        body.pop("version", None)
    return body


def changed_fields(before: BaseModel, after: BaseModel) -> dict[str, Any]:
    """Writable top-level fields whose value differs between two versions of a record."""
    old = write_body(before)
    new = write_body(after)
    return {
        key: value for key, value in new.items() if old.get(key) != value and key not in ("id", "version")
    }
