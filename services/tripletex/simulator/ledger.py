"""Vouchers, postings, attachments and invoice payments (REFERENCE §5.6-5.8).

Only gross amounts are used from the request; `amount` (net) and the VAT line are derived
from the posting's `vatType`, as Tripletex does. Postings must balance, manual postings
need `row >= 1` (row 0 is system-generated), and a posting on a ledger-typed account needs
its party (1500 CUSTOMER -> customer, 2400 VENDOR -> supplier, EMPLOYEE -> employee).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.tripletex.simulator import resources
from services.tripletex.simulator.errors import (
    CUSTOMER_MISSING,
    EMPLOYEE_MISSING,
    NOT_NULL,
    OUTGOING_INVOICE_TYPE,
    REFERENCED_OBJECT_MISSING,
    ROW_ZERO_SYSTEM_GENERATED,
    SUPPLIER_MISSING,
    TOO_LONG,
    VOUCHER_NOT_BALANCED,
    ValidationMessage,
    field_error,
    not_found,
    revision_conflict,
)
from services.tripletex.simulator.resources import Ctx
from services.tripletex.simulator.rules import EntityRules, register
from services.tripletex.simulator.seed import OUTGOING_INVOICE_VOUCHER_TYPE
from services.tripletex.simulator.validation import require

Row = dict[str, Any]
SEND_TO_LEDGER = "_sendToLedger"

# Copied from the request posting into the stored Posting; the rest is derived.
_POSTING_INPUT = (
    "date",
    "description",
    "account",
    "customer",
    "supplier",
    "employee",
    "project",
    "product",
    "department",
    "vatType",
    "currency",
    "invoiceNumber",
    "termOfPayment",
    "row",
    "freeAccountingDimension1",
    "freeAccountingDimension2",
    "freeAccountingDimension3",
    "amortizationAccount",
    "amortizationStartDate",
    "amortizationEndDate",
)
_PARTY = {
    "CUSTOMER": ("customer", CUSTOMER_MISSING),
    "VENDOR": ("supplier", SUPPLIER_MISSING),
    "EMPLOYEE": ("employee", EMPLOYEE_MISSING),
}


def _ref_id(value: Any) -> int | None:
    return value.get("id") if isinstance(value, dict) else None


def _gross(posting: Row) -> float:
    for key in ("amountGross", "amountGrossCurrency", "amount", "amountCurrency"):
        if posting.get(key) is not None:
            return float(posting[key])
    return 0.0


class VoucherRules(EntityRules):
    required = ("date", "description", "postings")

    def prepare_update(self, ctx: Ctx, row: Row, patch: Row) -> None:
        """PUT replaces the postings; `{id}` items stand for the stored manual posting."""
        if "postings" not in patch or patch["postings"] is None:
            return
        expanded = []
        for item in patch["postings"]:
            stored = ctx.company.get("Posting", _ref_id(item) or -1)
            if stored is not None:
                if stored.get("systemGenerated"):
                    continue
                base = {k: stored.get(k) for k in (*_POSTING_INPUT, "amountGross", "amountGrossCurrency")}
                expanded.append({**base, **{k: v for k, v in item.items() if k not in ("id", "version")}})
            else:
                expanded.append(item)
        patch["postings"] = expanded

    def validate(self, ctx: Ctx, obj: Row, existing: Row | None) -> list[ValidationMessage]:
        messages = require(obj, list(self.required))
        if messages:
            return messages
        if len(obj.get("externalVoucherNumber") or "") > 70:
            messages.append(ValidationMessage("externalVoucherNumber", TOO_LONG))
        voucher_type = ctx.company.get("VoucherType", _ref_id(obj.get("voucherType")) or -1)
        if existing is None and voucher_type and voucher_type.get("name") == OUTGOING_INVOICE_VOUCHER_TYPE:
            messages.append(ValidationMessage("voucherType", OUTGOING_INVOICE_TYPE))
        postings = obj["postings"]
        inline = [p for p in postings if isinstance(p, dict) and p.get("id") is None]
        if not inline:
            return messages
        total = 0.0
        for index, posting in enumerate(inline):
            path = f"postings[{index}]"
            if not posting.get("row"):
                messages.append(ValidationMessage("postings.row", ROW_ZERO_SYSTEM_GENERATED, f"{path}.row"))
            account = ctx.company.get("Account", _ref_id(posting.get("account")) or -1)
            if posting.get("account") is None:
                messages.append(ValidationMessage("postings.account", NOT_NULL, f"{path}.account"))
            elif account is not None and account.get("ledgerType") in _PARTY:
                party, message = _PARTY[account["ledgerType"]]
                if posting.get(party) is None:
                    messages.append(ValidationMessage(f"postings.{party}", message, f"{path}.{party}"))
            total += round(_gross(posting), 2)
        if round(total, 2) != 0:
            messages.append(ValidationMessage("postings", f"{VOUCHER_NOT_BALANCED} (differanse {total:.2f})"))
        return messages

    def derive(self, ctx: Ctx, row: Row) -> None:
        if row.get("date"):
            row["year"] = date.fromisoformat(row["date"]).year
        label = row.get("number") if row.get("number") is not None else row.get("tempNumber")
        row["numberAsString"] = f"{label}-{row.get('year')}" if label is not None else ""
        row["displayName"] = f"{row['numberAsString']} {row.get('description') or ''}".strip()

    def after_create(self, ctx: Ctx, row: Row) -> None:
        year = row["year"]
        sequence = ctx.company.voucher_numbers
        if row.pop(SEND_TO_LEDGER, True):
            sequence[year] = sequence.get(year, 0) + 1
            row["number"] = sequence[year]
        else:
            sequence[-year] = sequence.get(-year, 0) + 1
            row["tempNumber"] = sequence[-year]
            row["number"] = 0
        _write_postings(ctx, row)
        self.derive(ctx, row)

    def after_update(self, ctx: Ctx, row: Row, before: Row) -> None:
        if any(isinstance(p, dict) and p.get("id") is None for p in row.get("postings") or []):
            for posting in before.get("postings") or []:
                ctx.company.table("Posting").pop(_ref_id(posting) or -1, None)
            _write_postings(ctx, row)
        elif row.get("date") != before.get("date"):
            for posting in row.get("postings") or []:
                stored = ctx.company.get("Posting", _ref_id(posting) or -1)
                if stored is not None:
                    stored["date"] = row["date"]
        row.pop(SEND_TO_LEDGER, None)

    def check_delete(self, ctx: Ctx, row: Row) -> list[ValidationMessage]:
        for posting in row.get("postings") or []:
            stored = ctx.company.get("Posting", _ref_id(posting) or -1)
            if stored is not None and stored.get("closeGroup"):
                return [ValidationMessage("id", "Bilaget har lukkede posteringer og kan ikke slettes.")]
        return []

    def after_delete(self, ctx: Ctx, row: Row) -> None:
        for posting in row.get("postings") or []:
            ctx.company.table("Posting").pop(_ref_id(posting) or -1, None)
        attachment = _ref_id(row.get("attachment"))
        if attachment is not None:
            ctx.company.table("Document").pop(attachment, None)
            ctx.company.files.pop(attachment, None)


def _write_postings(ctx: Ctx, voucher: Row) -> None:
    """Store the request's postings as Posting objects, adding the generated VAT lines."""
    stored: list[Row] = []
    vat_rows: list[Row] = []
    for item in voucher.get("postings") or []:
        posting = {k: item.get(k) for k in _POSTING_INPUT if item.get(k) is not None}
        gross = round(_gross(item), 2)
        posting.update(
            voucher={"id": voucher["id"]},
            date=item.get("date") or voucher["date"],
            amountGross=gross,
            amountGrossCurrency=round(float(item.get("amountGrossCurrency", gross) or gross), 2),
            systemGenerated=False,
            matched=False,
        )
        vat = ctx.company.get("VatType", _ref_id(item.get("vatType")) or -1)
        percentage = float(vat.get("percentage") or 0) if vat else 0.0
        net = round(gross / (1 + percentage / 100), 2) if percentage else gross
        posting["amount"] = net
        posting["amountCurrency"] = net
        if not posting.get("description"):
            posting["description"] = voucher.get("description")
        if posting.get("customer") is not None:
            posting["type"] = "OUTGOING_INVOICE_CUSTOMER_POSTING"
        stored.append(posting)
        if percentage and gross != net and vat is not None:
            outgoing = str(vat.get("name", "")).startswith("Utgående")
            vat_account = _account_by_number(ctx, 2700 if outgoing else 2710)
            vat_rows.append(
                {
                    "voucher": {"id": voucher["id"]},
                    "date": posting["date"],
                    "description": posting["description"],
                    "account": {"id": vat_account["id"]} if vat_account else None,
                    "vatType": {"id": vat["id"]},
                    "amount": round(gross - net, 2),
                    "amountCurrency": round(gross - net, 2),
                    "amountGross": round(gross - net, 2),
                    "amountGrossCurrency": round(gross - net, 2),
                    "row": 0,
                    "systemGenerated": True,
                    "matched": False,
                    "project": posting.get("project"),
                }
            )
    refs = []
    for posting in [*stored, *vat_rows]:
        row = ctx.state.insert(ctx.company, "Posting", posting, ctx.employee_id)
        refs.append({"id": row["id"]})
    voucher["postings"] = refs


def _account_by_number(ctx: Ctx, number: int) -> Row | None:
    return next((a for a in ctx.company.table("Account").values() if a.get("number") == number), None)


def attach(ctx: Ctx, voucher_id: int, filename: str, content_type: str, content: bytes) -> Row:
    """Upload a voucher attachment. A second upload appends to the same document
    ("appended to the existing attachment as new PDF page(s)"), so it is not idempotent."""
    voucher = resources.fetch(ctx, "Voucher", voucher_id)
    if not content:
        raise field_error("file", NOT_NULL)
    document_id = _ref_id(voucher.get("attachment"))
    document = ctx.company.get("Document", document_id) if document_id else None
    if document is None:
        # Non-PDF uploads are converted to PDF by Tripletex; the stored mime type says PDF.
        document = ctx.state.insert(
            ctx.company, "Document", {"fileName": filename, "size": 0, "mimeType": "application/pdf"}
        )
        ctx.company.files[document["id"]] = b""
        voucher["attachment"] = {"id": document["id"]}
    else:
        ctx.state.touch(ctx.company, document, ctx.employee_id)
    ctx.company.files[document["id"]] += content
    document["size"] = len(ctx.company.files[document["id"]])
    document.setdefault("_parts", []).append(
        {"fileName": filename, "contentType": content_type, "size": len(content)}
    )
    ctx.state.touch(ctx.company, voucher, ctx.employee_id)
    resources.emit_event(ctx, "Voucher", "update", voucher)
    return voucher


def detach(ctx: Ctx, voucher_id: int, version: int | None) -> None:
    voucher = resources.fetch(ctx, "Voucher", voucher_id)
    if version is not None and version != voucher.get("version"):
        raise revision_conflict(int(voucher.get("version", 0)), version)
    document_id = _ref_id(voucher.get("attachment"))
    if document_id is None:
        raise not_found("voucher has no attachment")
    ctx.company.table("Document").pop(document_id, None)
    ctx.company.files.pop(document_id, None)
    voucher["attachment"] = None
    ctx.state.touch(ctx.company, voucher, ctx.employee_id)
    resources.emit_event(ctx, "Voucher", "update", voucher)


def close_postings(ctx: Ctx, posting_ids: list[int]) -> list[Row]:
    """`PUT /ledger/posting/:closePostings`: postings that sum to zero share a new closeGroup.
    Assumption: unbalanced or unknown postings are reported in the response and nothing closes."""
    problems: list[Row] = []
    postings = []
    for posting_id in posting_ids:
        posting = ctx.company.get("Posting", posting_id)
        if posting is None:
            problems.append({"postingId": posting_id, "message": REFERENCED_OBJECT_MISSING})
        else:
            postings.append(posting)
    total = round(sum(float(p.get("amountGross") or 0) for p in postings), 2)
    if not problems and total != 0:
        problems = [
            {"postingId": p["id"], "message": f"Posteringene går ikke i null (differanse {total:.2f})."}
            for p in postings
        ]
    if problems:
        return problems
    group = {"id": ctx.state.new_id()}
    for posting in postings:
        posting["closeGroup"] = group
        posting["matched"] = True
        ctx.state.touch(ctx.company, posting, ctx.employee_id)
    return []


def seed_invoice(ctx: Ctx, spec: Row) -> Row:
    """Create a charged outgoing invoice (with its voucher) for tests of `/:payment`.
    Tripletex's order->invoice flow is not simulated; `/_sim` calls this instead."""
    customer = resources.fetch(ctx, "Customer", int(spec["customerId"]))
    amount = round(float(spec["amount"]), 2)
    invoice_date = spec.get("invoiceDate") or ctx.state.today_in_oslo().isoformat()
    number = int(spec.get("invoiceNumber") or _next_invoice_number(ctx))
    receivable = _account_by_number(ctx, 1500)
    revenue = _account_by_number(ctx, 3000)
    assert receivable and revenue
    high_vat = next(v for v in ctx.company.table("VatType").values() if v.get("number") == "3")
    project = {"id": int(spec["projectId"])} if spec.get("projectId") else None
    voucher = resources.create(
        ctx,
        "Voucher",
        {
            "date": invoice_date,
            "description": f"Faktura {number}",
            "postings": [
                {
                    "row": 1,
                    "account": {"id": receivable["id"]},
                    "customer": {"id": customer["id"]},
                    "amountGross": amount,
                    "invoiceNumber": str(number),
                    "project": project,
                },
                {
                    "row": 2,
                    "account": {"id": revenue["id"]},
                    "vatType": {"id": high_vat["id"]},
                    "amountGross": -amount,
                    "project": project,
                },
            ],
        },
    )
    net = round(amount / 1.25, 2)
    invoice = ctx.state.insert(
        ctx.company,
        "Invoice",
        {
            "invoiceNumber": number,
            "invoiceDate": invoice_date,
            "invoiceDueDate": spec.get("invoiceDueDate") or invoice_date,
            "customer": {"id": customer["id"]},
            "voucher": {"id": voucher["id"]},
            "amount": amount,
            "amountCurrency": amount,
            "amountExcludingVat": net,
            "amountExcludingVatCurrency": net,
            "amountOutstanding": amount,
            "amountCurrencyOutstanding": amount,
            "amountOutstandingTotal": amount,
            "amountCurrencyOutstandingTotal": amount,
            "isCharged": True,
            "isCreditNote": False,
            "isApproved": True,
            "kid": spec.get("kid") or "",
            "postings": [voucher["postings"][0]],
        },
    )
    return invoice


def _next_invoice_number(ctx: Ctx) -> int:
    numbers = [int(i.get("invoiceNumber") or 0) for i in ctx.company.table("Invoice").values()]
    return max([0, *numbers]) + 1


def register_payment(
    ctx: Ctx,
    invoice_id: int,
    payment_date: str,
    payment_type_id: int,
    paid_amount: float,
    paid_currency: float | None,
) -> Row:
    """`PUT /invoice/{id}/:payment`: book bank debit / receivable credit and lower the
    outstanding amount. Every call adds a payment (not idempotent, REFERENCE §5.8)."""
    invoice = resources.fetch(ctx, "Invoice", invoice_id)
    payment_type = ctx.company.get("PaymentType", payment_type_id)
    if payment_type is None:
        raise field_error("paymentTypeId", REFERENCED_OBJECT_MISSING, code=21000)
    receivable = _account_by_number(ctx, 1500)
    assert receivable is not None
    amount = round(paid_amount, 2)
    voucher = resources.create(
        ctx,
        "Voucher",
        {
            "date": payment_date,
            "description": f"Innbetaling faktura {invoice['invoiceNumber']}",
            "postings": [
                {"row": 1, "account": payment_type["debitAccount"], "amountGross": amount},
                {
                    "row": 2,
                    "account": {"id": receivable["id"]},
                    "customer": invoice["customer"],
                    "amountGross": -amount,
                    "invoiceNumber": str(invoice["invoiceNumber"]),
                },
            ],
        },
    )
    credit = voucher["postings"][1]
    posting = ctx.company.get("Posting", credit["id"])
    if posting is not None:
        posting["type"] = "INCOMING_PAYMENT"
    invoice["postings"] = [*invoice.get("postings", []), credit]
    paid_in_currency = round(paid_currency if paid_currency is not None else amount, 2)
    for key in ("amountOutstanding", "amountOutstandingTotal"):
        invoice[key] = round(float(invoice.get(key) or 0) - amount, 2)
    for key in ("amountCurrencyOutstanding", "amountCurrencyOutstandingTotal"):
        invoice[key] = round(float(invoice.get(key) or 0) - paid_in_currency, 2)
    ctx.state.touch(ctx.company, invoice, ctx.employee_id)
    return invoice


register("Voucher", VoucherRules())
