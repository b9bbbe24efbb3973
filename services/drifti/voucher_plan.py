"""The Tripletex vouchers a Drifti invoice and a Drifti payment become (D-I1, D-P1), as pure data.

Computed without I/O, so the decision can check an invoice before it asks a writer to book it
(an unmapped account, D-L1, or amounts that do not add up are rejected there, with the reason
in the error log) and the writer books exactly what the decision checked.

Amounts are ``Decimal`` in øre and the postings balance exactly (sum of ``amount_gross`` == 0):

* invoice: the customer's receivable (1500, with the customer, the invoice number and due date)
  is debited the invoice's gross amount; each invoice line is credited to its mapped sales
  account with the line's gross amount and the VAT code of its rate. One posting per line:
  Tripletex splits a posting's gross into net and VAT itself, and per line that split gives
  back Drifti's own net and VAT to the øre (Drifti rounds VAT per line; ``API.md`` §4.3),
  whereas a sum of lines could differ by an øre. Every posting is tagged with the job's project.
* credit note: the same with Drifti's negative amounts, so every posting is reversed.
* payment: the bank (1920) is debited and the customer's receivable credited with the amount,
  naming the invoice, so the open balance per customer is what Drifti shows as outstanding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from contracts.entities import InvoiceSnapshot, PaymentSnapshot

RECEIVABLE_ACCOUNT = 1500  # Kundefordringer (NS 4102): postings need the customer
BANK_ACCOUNT = 1920  # Bankinnskudd: where KID/OCR and manual payments arrive
# Drifti's VAT rates as Tripletex's output VAT codes (høy, middels, lav sats; 0 %: zero-rated).
VAT_CODES: dict[int, str] = {25: "3", 15: "31", 12: "33", 0: "5"}
PAYMENT_VOUCHER_TYPE = "Innbetaling"
ZERO = Decimal("0.00")


class VoucherPlanError(ValueError):
    """The record cannot be booked as it stands (the decision rejects it)."""


class UnmappedAccounts(VoucherPlanError):
    def __init__(self, accounts: Sequence[str]) -> None:
        self.accounts = tuple(sorted(set(accounts)))
        super().__init__(f"Drifti account(s) {', '.join(self.accounts)} have no Tripletex account mapped")


class UnbalancedInvoice(VoucherPlanError):
    pass


@dataclass(frozen=True)
class PlannedPosting:
    row: int
    account: int
    amount_gross: Decimal
    description: str
    vat_code: str | None = None
    with_customer: bool = False  # receivable postings name the customer
    invoice_number: str | None = None
    term_of_payment: date | None = None


@dataclass(frozen=True)
class VoucherPlan:
    external_number: str  # Tripletex ``externalVoucherNumber``: the idempotency key
    date: date
    description: str
    postings: tuple[PlannedPosting, ...]
    voucher_type: str | None = None
    tag_project: bool = False  # every posting carries the job's project

    @property
    def total(self) -> Decimal:
        return sum((p.amount_gross for p in self.postings), ZERO)


def invoice_external_number(invoice_number: int) -> str:
    """Unique per tenant: Drifti numbers invoices and credit notes in one sequence."""
    return f"drifti-faktura-{invoice_number}"


def payment_external_number(payment_id: str) -> str:
    return f"drifti-betaling-{payment_id}"[:70]


def invoice_voucher(invoice: InvoiceSnapshot) -> VoucherPlan:
    """The invoice's voucher; raises ``UnmappedAccounts`` or ``UnbalancedInvoice``."""
    unmapped = [line.ledger_account for line in invoice.lines if not _account(line.tripletex_account)]
    if unmapped:
        raise UnmappedAccounts(unmapped)
    if not invoice.lines:
        raise UnbalancedInvoice(f"invoice {invoice.invoice_number} has no lines")
    for line in invoice.lines:
        if line.net_amount + line.vat_amount != line.gross_amount:
            raise UnbalancedInvoice(
                f"invoice {invoice.invoice_number} line {line.line_no}: net {line.net_amount} + VAT "
                f"{line.vat_amount} is not gross {line.gross_amount}"
            )
        if line.vat_rate not in VAT_CODES:
            raise UnbalancedInvoice(
                f"invoice {invoice.invoice_number} line {line.line_no}: unknown VAT rate {line.vat_rate} %"
            )
    lines_gross = sum((line.gross_amount for line in invoice.lines), ZERO)
    if lines_gross != invoice.gross_amount:
        raise UnbalancedInvoice(
            f"invoice {invoice.invoice_number}: lines add up to {lines_gross}, the invoice says "
            f"{invoice.gross_amount}"
        )
    credit = invoice.invoice_kind == "credit_note"
    title = "Kreditnota" if credit else "Faktura"
    description = f"{title} {invoice.invoice_number} {invoice.customer.name}"
    if credit and invoice.credited_invoice_number is not None:
        description += f" (krediterer faktura {invoice.credited_invoice_number})"
    number = str(invoice.invoice_number)
    postings = [
        PlannedPosting(
            row=1,
            account=RECEIVABLE_ACCOUNT,
            amount_gross=invoice.gross_amount,
            description=description,
            with_customer=True,
            invoice_number=number,
            term_of_payment=invoice.due_date,
        )
    ]
    for row, line in enumerate(invoice.lines, start=2):
        postings.append(
            PlannedPosting(
                row=row,
                account=_account(line.tripletex_account) or 0,
                amount_gross=-line.gross_amount,
                description=f"{title} {number}: {line.description}"[:255],
                vat_code=VAT_CODES[line.vat_rate],
                invoice_number=number,
            )
        )
    plan = VoucherPlan(
        external_number=invoice_external_number(invoice.invoice_number),
        date=invoice.invoice_date,
        description=description[:255],
        postings=tuple(postings),
        tag_project=True,
    )
    check_balanced(plan)
    return plan


def payment_voucher(payment_id: str, payment: PaymentSnapshot) -> VoucherPlan:
    """The payment's voucher: bank debit, the customer's receivable credit for that invoice."""
    if payment.amount <= 0:
        raise VoucherPlanError(f"payment {payment_id} has a non-positive amount {payment.amount}")
    how = f"KID {payment.kid}" if payment.method == "kid" and payment.kid else "manuelt registrert"
    description = f"Innbetaling faktura {payment.invoice_number} {payment.customer.name} ({how})"[:255]
    number = str(payment.invoice_number)
    plan = VoucherPlan(
        external_number=payment_external_number(payment_id),
        date=payment.payment_date,
        description=description,
        postings=(
            PlannedPosting(1, BANK_ACCOUNT, payment.amount, description),
            PlannedPosting(
                2, RECEIVABLE_ACCOUNT, -payment.amount, description, with_customer=True, invoice_number=number
            ),
        ),
        voucher_type=PAYMENT_VOUCHER_TYPE,
    )
    check_balanced(plan)
    return plan


def check_balanced(plan: VoucherPlan) -> None:
    if plan.total != 0:
        raise UnbalancedInvoice(f"voucher {plan.external_number} does not balance: off by {plan.total}")


def _account(number: str | None) -> int | None:
    return int(number) if number and number.isascii() and number.isdigit() else None
