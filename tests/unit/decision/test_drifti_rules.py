"""Drifti → Tripletex rules D-C1, D-J1, D-J2, D-I1, D-L1, D-P1, table-tested on pure functions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.entities import (
    CustomerSnapshot,
    InvoiceLineSnapshot,
    InvoiceSnapshot,
    JobSnapshot,
    PaymentSnapshot,
)
from contracts.envelope import ChangeKind, EntityType, Operation, SourceSystem, Verdict
from contracts.error_codes import CUSTOMER_NON_NUMERIC_ID, DRIFTI_ACCOUNT_UNMAPPED, DRIFTI_INVOICE_UNBALANCED
from services.decision.decide import decide
from services.decision.links import NO_LINKS
from services.drifti.voucher_plan import (
    BANK_ACCOUNT,
    RECEIVABLE_ACCOUNT,
    UnbalancedInvoice,
    UnmappedAccounts,
    invoice_voucher,
    payment_voucher,
)
from tests.unit.decision.rule_cases import TENANT, change, linked

DRIFTI = SourceSystem.DRIFTI
CUSTOMER = CustomerSnapshot(customer_number="10001", name="Fjordbygg AS", organization_number="912345678")
JOB = JobSnapshot(job_number="1001", title="Nytt bad", customer=CUSTOMER, start_date=date(2026, 10, 1))
ACCOUNTS = {(TENANT, "3000"): "3000", (TENANT, "3005"): "3000", (TENANT, "3015"): "3010"}


def line(no: int, net: str, rate: int, account: str = "3000") -> InvoiceLineSnapshot:
    n = Decimal(net)
    vat = (n * rate / 100).quantize(Decimal("0.01"))
    return InvoiceLineSnapshot(
        line_no=no,
        description=f"linje {no}",
        quantity=Decimal(1),
        unit_price=n,
        vat_rate=rate,
        ledger_account=account,
        net_amount=n,
        vat_amount=vat,
        gross_amount=n + vat,
    )


def invoice(
    *lines: InvoiceLineSnapshot, number: int = 50001, credit_of: int | None = None
) -> InvoiceSnapshot:
    net = sum((x.net_amount for x in lines), Decimal("0.00"))
    vat = sum((x.vat_amount for x in lines), Decimal("0.00"))
    return InvoiceSnapshot(
        invoice_number=number,
        invoice_kind="credit_note" if credit_of else "invoice",
        credited_invoice_number=credit_of,
        invoice_date=date(2026, 10, 5),
        due_date=date(2026, 10, 19),
        kid=None if credit_of else "0100010500017",
        lines=lines,
        net_amount=net,
        vat_amount=vat,
        gross_amount=net + vat,
        customer=CUSTOMER,
        job=JOB,
    )


PAYMENT = PaymentSnapshot(
    amount=Decimal("1000.00"),
    payment_date=date(2026, 10, 9),
    method="kid",
    kid="0100010500017",
    invoice_id="inv_1",
    invoice_number=50001,
    customer=CUSTOMER,
    job_number="1001",
)


# ------------------------------------------------------------------ D-C1
def test_D_C1_new_drifti_customer_is_found_by_number_or_created_in_tripletex() -> None:
    ruling = decide(change(DRIFTI, EntityType.CUSTOMER, ChangeKind.CREATED, CUSTOMER), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict) == ("D-C1", Verdict.COMMAND)
    (cmd,) = ruling.commands
    assert (cmd.target, cmd.operation, cmd.payload) == (SourceSystem.TRIPLETEX, Operation.CREATE, CUSTOMER)


def test_D_C1_transferred_customer_is_not_sent_again() -> None:
    event = change(DRIFTI, EntityType.CUSTOMER, ChangeKind.UPDATED, CUSTOMER)
    ruling = decide(event, linked(EntityType.CUSTOMER, DRIFTI))
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-C1", Verdict.SKIP, ())


def test_D_C1_non_numeric_customer_number_is_rejected() -> None:
    odd = CUSTOMER.model_copy(update={"customer_number": "A-1"})
    ruling = decide(change(DRIFTI, EntityType.CUSTOMER, ChangeKind.CREATED, odd), NO_LINKS)
    assert (ruling.verdict, ruling.error_code) == (Verdict.REJECT, CUSTOMER_NON_NUMERIC_ID)


# ------------------------------------------------------------------ D-J1 / D-J2
def test_D_J2_new_job_asks_for_its_project_by_number() -> None:
    ruling = decide(change(DRIFTI, EntityType.PROJECT, ChangeKind.CREATED, JOB), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict) == ("D-J2", Verdict.COMMAND)
    assert ruling.commands[0].operation is Operation.CREATE
    assert ruling.commands[0].payload == JOB


def test_D_J1_job_created_before_the_integration_waits_for_its_first_invoice() -> None:
    old = JOB.model_copy(update={"created_before_integration": True})
    ruling = decide(change(DRIFTI, EntityType.PROJECT, ChangeKind.UPDATED, old), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-J1", Verdict.SKIP, ())
    assert "first invoice or hours" in ruling.reason


def test_D_J1_linked_job_is_not_sent_again() -> None:
    ruling = decide(
        change(DRIFTI, EntityType.PROJECT, ChangeKind.UPDATED, JOB), linked(EntityType.PROJECT, DRIFTI)
    )
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())


# ------------------------------------------------------------------ D-I1 / D-L1
def test_D_I1_invoice_becomes_a_balanced_voucher_command_with_mapped_accounts() -> None:
    inv = invoice(line(1, "6712.50", 25), line(2, "999.99", 25, "3005"), line(3, "450.00", 15, "3015"))
    ruling = decide(change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, inv), NO_LINKS, ACCOUNTS)
    assert (ruling.rule_id, ruling.verdict) == ("D-I1", Verdict.COMMAND)
    payload = ruling.commands[0].payload
    assert isinstance(payload, InvoiceSnapshot)
    assert [x.tripletex_account for x in payload.lines] == ["3000", "3000", "3010"]


@pytest.mark.parametrize(
    ("lines", "credit_of"),
    [
        ((line(1, "100.01", 25), line(2, "33.33", 15), line(3, "0.03", 12), line(4, "500", 0)), None),
        ((line(1, "-999.99", 25, "3005"),), 50001),
    ],
    ids=["invoice-all-vat-rates", "credit-note"],
)
def test_D_I1_voucher_postings_balance_to_the_ore_and_credit_notes_reverse(
    lines: tuple[InvoiceLineSnapshot, ...], credit_of: int | None
) -> None:
    from services.decision.rules.drifti_invoices import with_accounts

    inv = with_accounts(invoice(*lines, number=50002, credit_of=credit_of), TENANT, ACCOUNTS)
    plan = invoice_voucher(inv)
    assert plan.total == 0
    receivable, *sales = plan.postings
    assert (receivable.account, receivable.amount_gross, receivable.with_customer) == (
        RECEIVABLE_ACCOUNT,
        inv.gross_amount,
        True,
    )
    assert receivable.term_of_payment == inv.due_date and plan.tag_project
    assert [s.amount_gross for s in sales] == [-x.gross_amount for x in inv.lines]
    assert [s.vat_code for s in sales] == [
        {25: "3", 15: "31", 12: "33", 0: "5"}[x.vat_rate] for x in inv.lines
    ]
    assert [p.row for p in plan.postings] == list(range(1, len(lines) + 2))
    if credit_of:  # reversed: the receivable is credited, the sales account debited
        assert receivable.amount_gross < 0 and all(s.amount_gross > 0 for s in sales)
        assert "krediterer faktura 50001" in plan.description
    assert plan.external_number == "drifti-faktura-50002"


def test_D_L1_invoice_with_an_unmapped_account_is_rejected_naming_the_account() -> None:
    inv = invoice(line(1, "100", 25), line(2, "100", 0, "3600"), line(3, "1", 25, "3025"))
    ruling = decide(change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, inv), NO_LINKS, ACCOUNTS)
    assert (ruling.rule_id, ruling.verdict, ruling.error_code) == (
        "D-L1",
        Verdict.REJECT,
        DRIFTI_ACCOUNT_UNMAPPED,
    )
    assert "3025, 3600" in ruling.reason and ruling.commands == ()
    with pytest.raises(UnmappedAccounts):
        invoice_voucher(inv)


def test_D_L1_same_invoice_transfers_once_the_account_is_mapped() -> None:
    inv = invoice(line(1, "100", 0, "3600"))
    event = change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, inv)
    assert decide(event, NO_LINKS, ACCOUNTS).verdict is Verdict.REJECT
    ruling = decide(event, NO_LINKS, {**ACCOUNTS, (TENANT, "3600"): "3100"})
    assert ruling.verdict is Verdict.COMMAND
    # Another tenant's mapping is not this tenant's.
    assert decide(event, NO_LINKS, {("other", "3600"): "3100"}).verdict is Verdict.REJECT


def test_D_I1_invoice_whose_amounts_do_not_add_up_is_rejected() -> None:
    bad = invoice(line(1, "100", 25)).model_copy(update={"gross_amount": Decimal("125.01")})
    ruling = decide(change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, bad), NO_LINKS, ACCOUNTS)
    assert (ruling.verdict, ruling.error_code) == (Verdict.REJECT, DRIFTI_INVOICE_UNBALANCED)
    with pytest.raises(UnbalancedInvoice):
        invoice_voucher(
            bad.model_copy(
                update={"lines": (line(1, "100", 25).model_copy(update={"tripletex_account": "3000"}),)}
            )
        )


def test_D_I1_booked_invoice_settlement_update_books_nothing_again() -> None:
    inv = invoice(line(1, "100", 25)).model_copy(update={"status": "paid"})
    ruling = decide(
        change(DRIFTI, EntityType.INVOICE, ChangeKind.UPDATED, inv),
        linked(EntityType.INVOICE, DRIFTI),
        ACCOUNTS,
    )
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-I1", Verdict.SKIP, ())


def test_D_I1_same_change_gives_the_same_command_id() -> None:
    event = change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, invoice(line(1, "100", 25)))
    first, again = decide(event, NO_LINKS, ACCOUNTS), decide(event, NO_LINKS, ACCOUNTS)
    assert first.commands[0].command_id == again.commands[0].command_id


# ------------------------------------------------------------------ D-P1
@pytest.mark.parametrize("method", ["kid", "manual"])
def test_D_P1_payment_is_booked_against_the_customers_receivable(method: str) -> None:
    payment = PAYMENT.model_copy(update={"method": method, "kid": PAYMENT.kid if method == "kid" else None})
    ruling = decide(change(DRIFTI, EntityType.PAYMENT, ChangeKind.CREATED, payment, "pay_1"), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict) == ("D-P1", Verdict.COMMAND)
    plan = payment_voucher("pay_1", payment)
    bank, receivable = plan.postings
    assert (bank.account, bank.amount_gross) == (BANK_ACCOUNT, Decimal("1000.00"))
    assert (receivable.account, receivable.amount_gross, receivable.with_customer) == (
        RECEIVABLE_ACCOUNT,
        Decimal("-1000.00"),
        True,
    )
    assert receivable.invoice_number == "50001" and plan.total == 0
    assert plan.external_number == "drifti-betaling-pay_1"


def test_D_P1_booked_payment_is_never_booked_twice() -> None:
    event = change(DRIFTI, EntityType.PAYMENT, ChangeKind.UPDATED, PAYMENT, "pay_1")
    ruling = decide(event, linked(EntityType.PAYMENT, DRIFTI, "pay_1"))
    assert (ruling.verdict, ruling.commands) == (Verdict.SKIP, ())


def test_D_P1_payment_without_a_positive_amount_is_rejected() -> None:
    refund = PAYMENT.model_copy(update={"amount": Decimal("-5.00")})
    ruling = decide(change(DRIFTI, EntityType.PAYMENT, ChangeKind.CREATED, refund, "pay_2"), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-P1", Verdict.REJECT, ())


# ------------------------------------------------------------------ D-S1
@pytest.mark.parametrize(
    ("kind", "links"),
    [
        (ChangeKind.CREATED, NO_LINKS),
        # A payment or credit after the switch-on bumps the old invoice's version: still not booked.
        (ChangeKind.UPDATED, NO_LINKS),
        (ChangeKind.UPDATED, linked(EntityType.INVOICE, DRIFTI)),
    ],
    ids=["first-seen", "touched-after-switch-on", "already-linked"],
)
def test_D_S1_invoice_dated_before_the_switch_on_is_never_booked(kind: ChangeKind, links: object) -> None:
    old = invoice(line(1, "100", 25)).model_copy(update={"before_switch_on": True, "status": "paid"})
    ruling = decide(change(DRIFTI, EntityType.INVOICE, kind, old), links, ACCOUNTS)  # type: ignore[arg-type]
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-S1", Verdict.SKIP, ())
    assert "before the integration was switched on" in ruling.reason


def test_D_S1_credit_note_dated_before_the_switch_on_is_never_booked() -> None:
    old = invoice(line(1, "-100", 25), number=50009, credit_of=50001)
    old = old.model_copy(update={"before_switch_on": True})
    ruling = decide(change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, old), NO_LINKS, ACCOUNTS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-S1", Verdict.SKIP, ())
    assert ruling.reason.startswith("credit note 50009")


def test_D_S1_payment_on_an_invoice_from_before_the_switch_on_is_listed_not_booked() -> None:
    from contracts.error_codes import DRIFTI_PAYMENT_BEFORE_SWITCH_ON, RULE_CODES

    payment = PAYMENT.model_copy(update={"invoice_before_switch_on": True})
    ruling = decide(change(DRIFTI, EntityType.PAYMENT, ChangeKind.CREATED, payment, "pay_9"), NO_LINKS)
    assert (ruling.rule_id, ruling.verdict, ruling.commands) == ("D-S1", Verdict.REJECT, ())
    # A reject is an error-log entry: the accountant sees which payment to book by hand.
    assert ruling.error_code == DRIFTI_PAYMENT_BEFORE_SWITCH_ON and ruling.error_code in RULE_CODES
    assert "invoice 50001" in ruling.reason and "1000.00" in ruling.reason


def test_D_S1_invoice_and_payment_from_the_switch_on_day_on_are_booked() -> None:
    fresh = invoice(line(1, "100", 25))
    assert decide(
        change(DRIFTI, EntityType.INVOICE, ChangeKind.CREATED, fresh), NO_LINKS, ACCOUNTS
    ).verdict is (Verdict.COMMAND)
    paid = decide(change(DRIFTI, EntityType.PAYMENT, ChangeKind.CREATED, PAYMENT, "pay_1"), NO_LINKS)
    assert (paid.rule_id, paid.verdict) == ("D-P1", Verdict.COMMAND)
