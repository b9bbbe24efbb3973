"""A small but real PDF of an invoice, written with the standard library only.

The engine attaches this file to the Tripletex voucher (D-I1), so it must be a PDF that
Tripletex (and a human) can open: one A4 page, the standard Helvetica font (no embedding
needed), and a correct cross-reference table — byte offsets are computed, not guessed.
The output is deterministic (no creation date), so the same invoice always yields the same
bytes and an attachment can be deduplicated by hash.
"""

from __future__ import annotations

from decimal import Decimal

from services.drifti.simulator.models import CustomerRecord, InvoiceRecord, JobRecord

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MAX_LINES = 52  # what fits on the page at 14 pt leading


def _pdf_string(text: str) -> bytes:
    # WinAnsiEncoding covers æ, ø, å; anything else becomes '?' rather than breaking the file.
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def minimal_pdf(text_lines: list[str], *, title: str) -> bytes:
    """One page of monospaced-ish text; a valid PDF 1.4 file ending in ``%%EOF``."""
    shown = text_lines[:MAX_LINES]
    if len(text_lines) > MAX_LINES:
        shown[-1] = "..."
    content = bytearray(b"BT\n/F1 10 Tf\n14 TL\n50 800 Td\n")
    for i, line in enumerate(shown):
        if i:
            content += b"T*\n"
        content += _pdf_string(line) + b" Tj\n"
    content += b"ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
            "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
        ).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + bytes(content) + b"\nendstream",
        b"<< /Title " + _pdf_string(title) + b" /Producer (drifti-sim) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary comment: marks the file as binary
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF"
    ).encode()
    return bytes(out)


def _kr(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",")


def render_invoice(
    invoice: InvoiceRecord,
    customer: CustomerRecord,
    job: JobRecord,
    company_name: str,
    credited_number: int | None = None,
) -> bytes:
    """The invoice as its customer received it (``Faktura`` or ``Kreditnota``)."""
    heading = "Kreditnota" if invoice.kind == "credit_note" else "Faktura"
    lines = [
        f"{company_name}",
        "",
        f"{heading} {invoice.invoice_number}",
        f"Fakturadato: {invoice.invoice_date.isoformat()}    Forfall: {invoice.due_date.isoformat()}",
        f"Kunde: {customer.name} (kundenr. {customer.customer_number})",
    ]
    if customer.organization_number:
        lines.append(f"Org.nr.: {customer.organization_number}")
    lines.append(f"Oppdrag: {job.job_number} {job.title}")
    if invoice.kid:
        lines.append(f"KID: {invoice.kid}")
    if credited_number is not None:
        lines.append(f"Krediterer faktura {credited_number}")
    lines += ["", "Beskrivelse / antall / pris / mva / beløp eks. mva"]
    for ln in invoice.lines:
        lines.append(
            f"{ln.line_no}. {ln.description} / {ln.quantity} / {_kr(ln.unit_price)} / "
            f"{ln.vat_rate} % / {_kr(ln.net_amount)}"
        )
    lines += [
        "",
        f"Sum eks. mva: {_kr(invoice.net_amount)} NOK",
        f"Mva: {_kr(invoice.vat_amount)} NOK",
        f"Å betale: {_kr(invoice.gross_amount)} NOK",
    ]
    return minimal_pdf(lines, title=f"{heading} {invoice.invoice_number}")
