"""Drifti invoices and payments → Tripletex vouchers: rules D-S1, D-I1, D-L1, D-P1 (sync-rules.md, Part 2).

An invoice (or credit note) is booked once, as a voucher whose postings the pure
:mod:`services.drifti.voucher_plan` computes; the decision fills in each line's Tripletex
account from the tenant's account mapping (D-L1) and checks that the voucher balances, so
what cannot be booked is rejected here with the reason (an unmapped account is named) instead
of failing in Tripletex. Invoices are immutable: once booked (linked), later settlement
changes of the same invoice arrive as payments and credit notes of their own.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.entities import InvoiceSnapshot, PaymentSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, LinkState, Operation, SourceSystem
from contracts.error_codes import (
    DRIFTI_ACCOUNT_UNMAPPED,
    DRIFTI_INVOICE_UNBALANCED,
    DRIFTI_PAYMENT_BEFORE_SWITCH_ON,
)
from services.decision.links import Links
from services.decision.ruling import Ruling, command, reject, skip
from services.drifti.voucher_plan import (
    UnmappedAccounts,
    VoucherPlanError,
    invoice_voucher,
    payment_voucher,
)

AccountMap = Mapping[tuple[str, str], str]
"""(tenant, Drifti account number) -> Tripletex account number (D-L1, migration 0006)."""

NO_ACCOUNTS: AccountMap = {}


def with_accounts(invoice: InvoiceSnapshot, tenant_id: str, accounts: AccountMap) -> InvoiceSnapshot:
    """The invoice with each line's mapped Tripletex account (None where there is no mapping)."""
    lines = tuple(
        line.model_copy(update={"tripletex_account": accounts.get((tenant_id, line.ledger_account))})
        for line in invoice.lines
    )
    return invoice.model_copy(update={"lines": lines})


def drifti_invoice_rules(event: ChangeEvent, links: Links, accounts: AccountMap = NO_ACCOUNTS) -> Ruling:
    link = links.of(event.tenant_id, event.entity_type, event.source, event.entity_id)
    invoice = event.snapshot
    if event.change_kind is ChangeKind.DELETED or not isinstance(invoice, InvoiceSnapshot):
        return skip("D-I1", "Drifti invoices are never deleted (a correction is a credit note)")
    what = "credit note" if invoice.invoice_kind == "credit_note" else "invoice"
    if invoice.before_switch_on:
        # Checked before the link: whatever happens to an old invoice later (a payment, a credit
        # bumping its version) never makes it the integration's to book.
        return skip(
            "D-S1",
            f"{what} {invoice.invoice_number} is dated {invoice.invoice_date}, before the integration "
            "was switched on: it was booked before and is never booked by the integration",
        )
    if link.state is LinkState.LINKED:
        return skip(
            "D-I1",
            f"already booked as Tripletex voucher {link.target_entity_id}; invoices are immutable, "
            "payments and credit notes are booked on their own",
        )
    mapped = with_accounts(invoice, event.tenant_id, accounts)
    try:
        plan = invoice_voucher(mapped)
    except UnmappedAccounts as exc:
        return reject(
            "D-L1",
            DRIFTI_ACCOUNT_UNMAPPED,
            f"Drifti ledger account {', '.join(exc.accounts)} is not mapped to a Tripletex account; "
            f"invoice {invoice.invoice_number} transfers once it is",
        )
    except VoucherPlanError as exc:
        return reject("D-I1", DRIFTI_INVOICE_UNBALANCED, str(exc))
    return command(
        "D-I1",
        f"book {what} {invoice.invoice_number} as a voucher ({len(plan.postings)} balanced postings, "
        f"gross {invoice.gross_amount}) with its PDF attached",
        event,
        SourceSystem.TRIPLETEX,
        Operation.CREATE,
        link,
        mapped,
    )


def drifti_payment_rules(event: ChangeEvent, links: Links) -> Ruling:
    link = links.of(event.tenant_id, event.entity_type, event.source, event.entity_id)
    payment = event.snapshot
    if event.change_kind is ChangeKind.DELETED or not isinstance(payment, PaymentSnapshot):
        return skip("D-P1", "Drifti payments are never deleted")
    if link.state is LinkState.LINKED:
        return skip("D-P1", f"already booked as Tripletex voucher {link.target_entity_id} (never twice)")
    if payment.invoice_before_switch_on:
        # Not dropped silently: the accountant sees it in the error log and books it by hand.
        return reject(
            "D-S1",
            DRIFTI_PAYMENT_BEFORE_SWITCH_ON,
            f"payment of {payment.amount} on {payment.payment_date} is for invoice {payment.invoice_number}, "
            "dated before the integration was switched on: not booked by the integration",
        )
    try:
        payment_voucher(event.entity_id, payment)
    except VoucherPlanError as exc:
        return reject("D-P1", DRIFTI_INVOICE_UNBALANCED, str(exc))
    how = "KID/OCR" if payment.method == "kid" else "manual"
    return command(
        "D-P1",
        f"book the {how} payment of {payment.amount} on invoice {payment.invoice_number} against the "
        "customer's receivable",
        event,
        SourceSystem.TRIPLETEX,
        Operation.CREATE,
        link,
    )
