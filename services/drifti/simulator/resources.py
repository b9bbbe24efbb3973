"""Drifti's business rules for records, independent of HTTP (the demo seed uses them too).

The rules are the ones that shape the engine's life on the Tripletex side:
- money is computed per line and rounded to øre *before* summing, so an invoice's
  ``net + vat == gross`` holds exactly and every line can be booked as it is (D-I1);
- invoices are immutable once issued — corrections are credit notes that reference the
  original and carry negative amounts, like in Norwegian bookkeeping;
- payments can never exceed what is still owed, and a KID payment is matched to its
  invoice by KID alone, as an OCR file would be (D-P1);
- approved hours are locked: changing them means reopening them first, so an export of an
  approved period (D-H1) is not silently invalidated;
- a no-op PATCH changes nothing and emits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from services.drifti.simulator.models import (
    CustomerCreate,
    CustomerPatch,
    CustomerRecord,
    HourlyRateCreate,
    HourlyRatePatch,
    HourlyRateRecord,
    InvoiceCreate,
    InvoiceLine,
    InvoiceRecord,
    JobCreate,
    JobPatch,
    JobRecord,
    LedgerAccountCreate,
    LedgerAccountRecord,
    PaymentCreate,
    PaymentRecord,
    TimeEntryCreate,
    TimeEntryPatch,
    TimeEntryRecord,
    UserCreate,
    UserPatch,
    UserRecord,
)
from services.drifti.simulator.state import TenantState
from services.restsim.error_envelope import ApiError, field_error, not_found

R = TypeVar("R", bound=BaseModel)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DEFAULT_PAYMENT_TERMS = timedelta(days=14)


def money(value: Decimal) -> Decimal:
    """Round to øre the way Norwegian invoices do (half up), never banker's rounding."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def mod10_check_digit(base: str) -> str:
    """The Luhn (MOD10) check digit Norwegian banks validate KIDs with."""
    total = 0
    for i, ch in enumerate(reversed(base)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def kid_for(customer_number: str, invoice_number: int) -> str:
    """Customer number (6+ digits) + invoice number (7 digits) + MOD10: unique per invoice."""
    base = f"{customer_number.zfill(6)}{invoice_number:07d}"
    return base + mod10_check_digit(base)


def invalid(details: list[dict[str, str]]) -> ApiError:
    return ApiError(422, "VALIDATION_FAILED", "The request failed validation.", details=details)


def get(table: dict[str, R], resource: str, record_id: str) -> R:
    record = table.get(record_id)
    if record is None:
        raise not_found(resource, record_id)
    return record


def _next_number(existing: Iterable[str], start: int) -> str:
    numbers = [int(n) for n in existing if n.isdigit()]
    return str(max([start - 1, *numbers]) + 1)


def _stamp(tenant: TenantState, at: datetime | None) -> dict[str, Any]:
    ts = tenant.now(at)
    return {"created_at": ts, "updated_at": ts, "seq": tenant.next_seq()}


def _apply(
    tenant: TenantState, record: R, changes: dict[str, Any], at: datetime | None = None
) -> tuple[R, bool]:
    """Apply a validated partial change; returns the new record and whether anything changed."""
    effective = {k: v for k, v in changes.items() if getattr(record, k) != v}
    if not effective:
        return record, False
    effective["version"] = record.__dict__["version"] + 1  # every stored record has one
    effective["updated_at"] = tenant.now(at)
    return record.model_copy(update=effective), True


def _require(changes: dict[str, Any], fields: tuple[str, ...]) -> None:
    missing = [field_error(f, "May not be null.") for f in fields if f in changes and changes[f] is None]
    if missing:
        raise invalid(missing)


# ---------------------------------------------------------------------------- customers
def _check_customer_number(tenant: TenantState, number: str, own_id: str | None) -> None:
    for other in tenant.customers.values():
        if other.customer_number == number and other.id != own_id:
            raise ApiError(
                409,
                "DUPLICATE_CUSTOMER_NUMBER",
                f"Customer number {number} is already used by {other.id}.",
                extra={"conflicting_id": other.id},
            )


def create_customer(tenant: TenantState, body: CustomerCreate, at: datetime | None = None) -> CustomerRecord:
    number = body.customer_number or _next_number(
        (c.customer_number for c in tenant.customers.values()), 10001
    )
    _check_customer_number(tenant, number, None)
    fields = body.model_dump(exclude={"customer_number"})
    record = CustomerRecord(id=tenant.new_id("cus"), customer_number=number, **fields, **_stamp(tenant, at))
    tenant.customers[record.id] = record
    return record


def update_customer(
    tenant: TenantState, customer_id: str, body: CustomerPatch
) -> tuple[CustomerRecord, bool]:
    current = get(tenant.customers, "customer", customer_id)
    changes = body.model_dump(exclude_unset=True)
    _require(changes, ("customer_number", "name", "country_code"))
    if "customer_number" in changes:
        _check_customer_number(tenant, changes["customer_number"], customer_id)
    record, changed = _apply(tenant, current, changes)
    tenant.customers[record.id] = record
    return record, changed


# --------------------------------------------------------------------------------- jobs
def create_job(tenant: TenantState, body: JobCreate, at: datetime | None = None) -> JobRecord:
    if body.customer_id not in tenant.customers:
        raise invalid([field_error("customer_id", f"No customer {body.customer_id!r}.")])
    number = body.job_number or _next_number((j.job_number for j in tenant.jobs.values()), 1001)
    for other in tenant.jobs.values():
        if other.job_number == number:
            raise ApiError(
                409,
                "DUPLICATE_JOB_NUMBER",
                f"Job number {number} is already used by {other.id}.",
                extra={"conflicting_id": other.id},
            )
    fields = body.model_dump(exclude={"job_number"})
    record = JobRecord(id=tenant.new_id("job"), job_number=number, **fields, **_stamp(tenant, at))
    tenant.jobs[record.id] = record
    return record


def update_job(
    tenant: TenantState, job_id: str, body: JobPatch, at: datetime | None = None
) -> tuple[JobRecord, bool]:
    current = get(tenant.jobs, "job", job_id)
    changes = body.model_dump(exclude_unset=True)
    _require(changes, ("title", "status"))
    record, changed = _apply(tenant, current, changes, at)
    tenant.jobs[record.id] = record
    return record, changed


# ----------------------------------------------------------------------------- invoices
def _lines(
    tenant: TenantState, body: InvoiceCreate, credit: bool
) -> tuple[list[InvoiceLine], list[dict[str, str]]]:
    accounts = {a.number: a for a in tenant.ledger_accounts.values() if a.active}
    lines: list[InvoiceLine] = []
    errors: list[dict[str, str]] = []
    for i, line in enumerate(body.lines):
        account = accounts.get(line.ledger_account)
        if account is None:
            errors.append(
                field_error(f"lines.{i}.ledger_account", f"No active ledger account {line.ledger_account}.")
            )
            continue
        vat_rate = line.vat_rate if line.vat_rate is not None else account.default_vat_rate
        if vat_rate is None:
            errors.append(
                field_error(f"lines.{i}.vat_rate", "Required: the account has no default VAT rate.")
            )
            continue
        net = money(line.quantity * line.unit_price)
        if credit and net > 0:
            errors.append(
                field_error(
                    f"lines.{i}.quantity", "Credit note lines carry negative amounts (negative quantity)."
                )
            )
        vat = money(net * vat_rate / 100)
        lines.append(
            InvoiceLine(
                line_no=i + 1,
                description=line.description,
                quantity=line.quantity,
                unit_price=money(line.unit_price),
                vat_rate=vat_rate,
                ledger_account=account.number,
                net_amount=net,
                vat_amount=vat,
                gross_amount=net + vat,
            )
        )
    return lines, errors


def create_invoice(
    tenant: TenantState, body: InvoiceCreate, at: datetime | None = None
) -> tuple[InvoiceRecord, InvoiceRecord | None]:
    """Issue an invoice or a credit note; returns it and, for a credit note, the updated original."""
    errors: list[dict[str, str]] = []
    original: InvoiceRecord | None = None
    job: JobRecord | None = None
    if body.credited_invoice_id is not None:
        original = tenant.invoices.get(body.credited_invoice_id)
        if original is None:
            errors.append(field_error("credited_invoice_id", f"No invoice {body.credited_invoice_id!r}."))
        elif original.kind != "invoice":
            errors.append(field_error("credited_invoice_id", "A credit note cannot itself be credited."))
        else:
            job = tenant.jobs[original.job_id]
            if body.job_id is not None and body.job_id != original.job_id:
                errors.append(field_error("job_id", "A credit note belongs to the credited invoice's job."))
    elif body.job_id is None:
        errors.append(field_error("job_id", "Required for an invoice."))
    else:
        job = tenant.jobs.get(body.job_id)
        if job is None:
            errors.append(field_error("job_id", f"No job {body.job_id!r}."))

    lines, line_errors = _lines(tenant, body, credit=body.credited_invoice_id is not None)
    errors.extend(line_errors)
    today = (at or tenant.now()).date()
    invoice_date = body.invoice_date or today
    due_date = body.due_date or invoice_date + DEFAULT_PAYMENT_TERMS
    if due_date < invoice_date:
        errors.append(field_error("due_date", "Must be on or after invoice_date."))
    if original is not None and invoice_date < original.invoice_date:
        errors.append(field_error("invoice_date", "A credit note cannot predate the invoice it credits."))
    if errors or job is None:
        raise invalid(errors)

    net = sum((ln.net_amount for ln in lines), ZERO)
    vat = sum((ln.vat_amount for ln in lines), ZERO)
    gross = net + vat
    if original is None and gross <= 0:
        raise invalid(
            [field_error("lines", "An invoice's total must be positive; reduce one with a credit note.")]
        )
    if original is not None:
        if gross >= 0:
            raise invalid([field_error("lines", "A credit note's total must be negative.")])
        if -gross > original.outstanding_amount:
            raise invalid(
                [
                    field_error(
                        "lines",
                        f"Credits {-gross} but only {original.outstanding_amount} of the invoice is unpaid "
                        "and uncredited.",
                    )
                ]
            )

    customer = tenant.customers[job.customer_id]
    number = tenant.next_invoice_number
    tenant.next_invoice_number += 1
    is_credit = original is not None
    record = InvoiceRecord(
        id=tenant.new_id("inv"),
        invoice_number=number,
        kind="credit_note" if is_credit else "invoice",
        credited_invoice_id=original.id if original is not None else None,
        job_id=job.id,
        customer_id=customer.id,
        invoice_date=invoice_date,
        due_date=due_date,
        kid=None if is_credit else kid_for(customer.customer_number, number),
        lines=lines,
        net_amount=net,
        vat_amount=vat,
        gross_amount=gross,
        outstanding_amount=ZERO if is_credit else gross,
        status="issued" if is_credit else "unpaid",
        **_stamp(tenant, at),
    )
    tenant.invoices[record.id] = record
    updated = settle(tenant, original.id, at) if original is not None else None
    return record, updated


def settle(tenant: TenantState, invoice_id: str, at: datetime | None = None) -> InvoiceRecord | None:
    """Recompute what is credited, paid and owed on an invoice; the record if it changed."""
    invoice = tenant.invoices[invoice_id]
    credited = -sum(
        (c.gross_amount for c in tenant.invoices.values() if c.credited_invoice_id == invoice_id), ZERO
    )
    paid = sum((p.amount for p in tenant.payments.values() if p.invoice_id == invoice_id), ZERO)
    outstanding = invoice.gross_amount - credited - paid
    if outstanding == 0:
        status = "paid" if paid > 0 else "credited"
    else:
        status = "partially_paid" if paid > 0 else "unpaid"
    record, changed = _apply(
        tenant,
        invoice,
        {
            "credited_amount": credited,
            "paid_amount": paid,
            "outstanding_amount": outstanding,
            "status": status,
        },
        at,
    )
    tenant.invoices[record.id] = record
    return record if changed else None


# ----------------------------------------------------------------------------- payments
def create_payment(
    tenant: TenantState, body: PaymentCreate, at: datetime | None = None
) -> tuple[PaymentRecord, InvoiceRecord | None]:
    """Register a payment; returns it and the invoice whose paid/outstanding amounts moved."""
    invoice: InvoiceRecord | None = None
    if body.invoice_id is not None:
        invoice = tenant.invoices.get(body.invoice_id)
        if invoice is None:
            raise invalid([field_error("invoice_id", f"No invoice {body.invoice_id!r}.")])
    if body.method == "kid":
        if body.kid is None:
            raise invalid([field_error("kid", "Required for KID payments.")])
        if invoice is None:  # OCR matching: the KID alone names the invoice
            invoice = next((i for i in tenant.invoices.values() if i.kid == body.kid), None)
            if invoice is None:
                raise invalid([field_error("kid", "No invoice has this KID.")])
        elif invoice.kid != body.kid:
            raise invalid([field_error("kid", "Does not match the invoice's KID.")])
    else:
        if invoice is None:
            raise invalid([field_error("invoice_id", "Required for manual payments.")])
        if body.kid is not None:
            raise invalid([field_error("kid", "Only KID payments carry a KID.")])
    if invoice.kind != "invoice":
        raise invalid([field_error("invoice_id", "Payments go to invoices, not to credit notes.")])
    if body.amount > invoice.outstanding_amount:
        raise invalid(
            [field_error("amount", f"Exceeds the outstanding amount {invoice.outstanding_amount}.")]
        )
    if body.payment_date < invoice.invoice_date:
        raise invalid([field_error("payment_date", "Before the invoice date.")])
    record = PaymentRecord(
        id=tenant.new_id("pay"),
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        amount=body.amount,
        payment_date=body.payment_date,
        method=body.method,
        kid=body.kid,
        reference=body.reference,
        **_stamp(tenant, at),
    )
    tenant.payments[record.id] = record
    return record, settle(tenant, invoice.id, at)


# -------------------------------------------------------------------------------- users
def _check_user_unique(
    tenant: TenantState, email: str | None, number: str | None, own_id: str | None
) -> None:
    for other in tenant.users.values():
        if other.id == own_id:
            continue
        if email is not None and other.email.lower() == email.lower():
            raise ApiError(
                409,
                "DUPLICATE_EMAIL",
                f"E-mail {email} is used by {other.id}.",
                extra={"conflicting_id": other.id},
            )
        if number is not None and other.employee_number == number:
            raise ApiError(
                409,
                "DUPLICATE_EMPLOYEE_NUMBER",
                f"Employee number {number} is used by {other.id}.",
                extra={"conflicting_id": other.id},
            )


def create_user(tenant: TenantState, body: UserCreate, at: datetime | None = None) -> UserRecord:
    _check_user_unique(tenant, body.email, body.employee_number, None)
    record = UserRecord(id=tenant.new_id("usr"), **body.model_dump(), **_stamp(tenant, at))
    tenant.users[record.id] = record
    return record


def update_user(tenant: TenantState, user_id: str, body: UserPatch) -> tuple[UserRecord, bool]:
    current = get(tenant.users, "user", user_id)
    changes = body.model_dump(exclude_unset=True)
    _require(changes, ("name", "email", "active"))
    _check_user_unique(tenant, changes.get("email"), changes.get("employee_number"), user_id)
    record, changed = _apply(tenant, current, changes)
    tenant.users[record.id] = record
    return record, changed


# ------------------------------------------------------------------------- hourly rates
def create_hourly_rate(
    tenant: TenantState, body: HourlyRateCreate, at: datetime | None = None
) -> HourlyRateRecord:
    record = HourlyRateRecord(id=tenant.new_id("rat"), **body.model_dump(), **_stamp(tenant, at))
    tenant.hourly_rates[record.id] = record
    return record


def update_hourly_rate(
    tenant: TenantState, rate_id: str, body: HourlyRatePatch
) -> tuple[HourlyRateRecord, bool]:
    current = get(tenant.hourly_rates, "hourly rate", rate_id)
    changes = body.model_dump(exclude_unset=True)
    _require(changes, ("name", "price_per_hour", "active"))
    record, changed = _apply(tenant, current, changes)
    tenant.hourly_rates[record.id] = record
    return record, changed


# ------------------------------------------------------------------------- time entries
def _check_entry_refs(
    tenant: TenantState, user_id: str | None, job_id: str | None, rate_id: str | None
) -> None:
    errors = []
    if user_id is not None:
        user = tenant.users.get(user_id)
        if user is None or not user.active:
            errors.append(field_error("user_id", f"No active user {user_id!r}."))
    if job_id is not None:
        job = tenant.jobs.get(job_id)
        if job is None:
            errors.append(field_error("job_id", f"No job {job_id!r}."))
        elif job.status != "open":
            errors.append(field_error("job_id", "The job is closed; hours cannot be logged on it."))
    if rate_id is not None:
        rate = tenant.hourly_rates.get(rate_id)
        if rate is None or not rate.active:
            errors.append(field_error("hourly_rate_id", f"No active hourly rate {rate_id!r}."))
    if errors:
        raise invalid(errors)


def create_time_entry(
    tenant: TenantState, body: TimeEntryCreate, at: datetime | None = None
) -> TimeEntryRecord:
    _check_entry_refs(tenant, body.user_id, body.job_id, body.hourly_rate_id)
    stamp = _stamp(tenant, at)
    record = TimeEntryRecord(
        id=tenant.new_id("tim"),
        **body.model_dump(),
        approved_at=stamp["created_at"] if body.status == "approved" else None,
        **stamp,
    )
    tenant.time_entries[record.id] = record
    return record


def update_time_entry(
    tenant: TenantState, entry_id: str, body: TimeEntryPatch, at: datetime | None = None
) -> tuple[TimeEntryRecord, bool]:
    current = get(tenant.time_entries, "time entry", entry_id)
    changes = body.model_dump(exclude_unset=True)
    _require(changes, ("job_id", "hourly_rate_id", "date", "hours", "status"))
    edits = {k: v for k, v in changes.items() if k != "status" and getattr(current, k) != v}
    new_status = changes.get("status", current.status)
    if edits and current.status == "approved" and new_status == "approved":
        raise ApiError(
            409,
            "TIME_ENTRY_APPROVED",
            "Approved hours are locked. Set status to pending to change them (and approve again).",
        )
    _check_entry_refs(tenant, None, edits.get("job_id"), edits.get("hourly_rate_id"))
    if new_status != current.status:
        changes["approved_at"] = tenant.now(at) if new_status == "approved" else None
    record, changed = _apply(tenant, current, changes, at)
    tenant.time_entries[record.id] = record
    return record, changed


# ---------------------------------------------------------------------- ledger accounts
def create_ledger_account(
    tenant: TenantState, body: LedgerAccountCreate, at: datetime | None = None
) -> LedgerAccountRecord:
    for other in tenant.ledger_accounts.values():
        if other.number == body.number:
            raise ApiError(
                409,
                "DUPLICATE_ACCOUNT_NUMBER",
                f"Account {body.number} exists ({other.id}).",
                extra={"conflicting_id": other.id},
            )
    record = LedgerAccountRecord(id=tenant.new_id("acc"), **body.model_dump(), **_stamp(tenant, at))
    tenant.ledger_accounts[record.id] = record
    return record


def in_period(value: date, start: date | None, end: date | None) -> bool:
    return (start is None or value >= start) and (end is None or value <= end)
