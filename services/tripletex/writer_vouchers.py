"""What the Tripletex writer does with Drifti's commands (Part 2: D-C1, D-J1, D-J2, D-I1, D-P1).

Every command is a ``create`` that can arrive twice (redelivery, replay, a crash between the
write and the offset commit) and must still leave exactly one record in Tripletex:

- **customer** (D-C1): found by customer number (inactive ones too) and linked, else created;
- **project** of a job (D-J1, D-J2): found by the job number and used, else created with its
  customer (found or created first). An invoice brings its job's project along the same way,
  which is how a job created before the integration gets its project (D-J1);
- **invoice / credit note** (D-I1): a voucher found by ``externalVoucherNumber``
  (``drifti-faktura-<number>``) or created with the postings of
  :mod:`services.drifti.voucher_plan`, then the invoice PDF attached once (an upload *appends*
  pages, so it is guarded by a look at the voucher's attachment first);
- **payment** (D-P1): a voucher ``drifti-betaling-<payment id>`` debiting the bank and
  crediting the customer's receivable for that invoice, found-or-created the same way.

Account, VAT-type and voucher-type ids differ per Tripletex company and are resolved by number
or name (cached per client). Failures follow ``writer_ops``: what the command causes is a
``failed`` outcome with an error code; what Drifti's or Tripletex's state causes parks the
tenant's commands (``SideUnreachable``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.entities import CustomerSnapshot, InvoiceSnapshot, JobSnapshot, PaymentSnapshot
from contracts.envelope import Command, Operation, Outcome, OutcomeStatus, SourceSystem
from contracts.error_codes import WRITE_REJECTED
from services.core.write_gate import SideUnreachable
from services.core.writer import outcome_for
from services.drifti.client import DriftiClient, DriftiError, DriftiNotFoundError
from services.drifti.voucher_plan import (
    VoucherPlan,
    VoucherPlanError,
    invoice_voucher,
    payment_voucher,
)
from services.tripletex.client import TripletexClient
from services.tripletex.client.models import Customer, Posting, Project, Ref, Voucher
from services.tripletex.mapping import customer_create_body

PDF_FILENAME = {"invoice": "faktura-{n}.pdf", "credit_note": "kreditnota-{n}.pdf"}


class DriftiCommandFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def apply_drifti_command(
    command: Command, tx: TripletexClient, drifti: DriftiClient | None, api_user: int
) -> Outcome:
    """Apply one Drifti command; ``api_user`` is the project manager for new projects."""
    try:
        return await _apply(command, tx, drifti, api_user)
    except DriftiCommandFailed as exc:
        return outcome_for(
            command, OutcomeStatus.FAILED, error_code=WRITE_REJECTED, error_message=exc.message
        )
    except VoucherPlanError as exc:
        return outcome_for(command, OutcomeStatus.FAILED, error_code=WRITE_REJECTED, error_message=str(exc))
    except DriftiError as exc:
        if exc.retryable:
            raise SideUnreachable(
                SourceSystem.DRIFTI,
                command.tenant_id,
                f"Drifti is unavailable for tenant {command.tenant_id}: {exc}",
            ) from exc
        return outcome_for(
            command,
            OutcomeStatus.FAILED,
            error_code=WRITE_REJECTED,
            error_message=f"could not read the invoice PDF from Drifti: {exc}",
        )


async def _apply(
    command: Command, tx: TripletexClient, drifti: DriftiClient | None, api_user: int
) -> Outcome:
    if command.operation is not Operation.CREATE:
        return outcome_for(
            command,
            OutcomeStatus.SKIPPED,
            reason="Drifti records are only transferred (created) in Tripletex",
        )
    payload = command.payload
    if isinstance(payload, CustomerSnapshot):
        customer, created = await ensure_customer(tx, payload)
        verb = "created" if created else "matched by number and linked (not duplicated)"
        return _applied(command, customer, f"D-C1: Tripletex customer {customer} {verb}")
    if isinstance(payload, JobSnapshot):
        project, note = await ensure_project(tx, payload, api_user)
        return _applied(command, project, f"D-J2: Tripletex project {project} {note}")
    if isinstance(payload, InvoiceSnapshot):
        return await _book_invoice(command, tx, drifti, api_user, payload)
    if isinstance(payload, PaymentSnapshot):
        return await _book_payment(command, tx, payload)
    raise DriftiCommandFailed(f"a Drifti {command.entity_type.value} command without a Drifti payload")


# --------------------------------------------------------------------------- customers, projects
async def ensure_customer(tx: TripletexClient, customer: CustomerSnapshot) -> tuple[int, bool]:
    """D-C1: the Tripletex customer with this number (found, or created); (id, created)."""
    number = customer.customer_number or ""
    if not (number.isascii() and number.isdigit()):
        raise DriftiCommandFailed(f"customer number {number!r} is not numeric (D-C1)")
    ensured = await tx.customers.ensure(Customer.model_validate(customer_create_body(customer)))
    if ensured.record.id is None:
        raise DriftiCommandFailed("Tripletex returned a customer without an id")
    return ensured.record.id, ensured.created


async def ensure_project(tx: TripletexClient, job: JobSnapshot, api_user: int) -> tuple[int, str]:
    """D-J2 (and D-J1 for older jobs): the project numbered like the job, found or created."""
    existing = await tx.projects.by_number(job.job_number)
    if existing is not None and existing.id is not None:
        return existing.id, f"matched by number {job.job_number!r} and used (not duplicated)"
    customer_id = (await ensure_customer(tx, job.customer))[0] if job.customer is not None else None
    project = Project(
        name=job.title,
        number=job.job_number,
        project_manager=Ref.to(api_user),
        start_date=job.start_date or datetime.now(UTC).date(),
        is_internal=False,
        customer=Ref.to(customer_id) if customer_id is not None else None,
    )
    ensured = await tx.projects.ensure(project)
    if ensured.record.id is None:
        raise DriftiCommandFailed("Tripletex returned a project without an id")
    note = "created" if ensured.created else "matched by number and used (not duplicated)"
    return ensured.record.id, f"{note} (number {job.job_number!r}, customer {customer_id})"


# --------------------------------------------------------------------------- vouchers
async def _book_invoice(
    command: Command,
    tx: TripletexClient,
    drifti: DriftiClient | None,
    api_user: int,
    invoice: InvoiceSnapshot,
) -> Outcome:
    plan = invoice_voucher(invoice)
    customer_id, _ = await ensure_customer(tx, invoice.customer)
    project_id, project_note = await ensure_project(tx, invoice.job, api_user)
    voucher = await _voucher(tx, plan, customer_id, project_id)
    ensured = await tx.ledger.ensure_voucher(voucher)
    voucher_id = ensured.record.id
    if voucher_id is None:
        raise DriftiCommandFailed("Tripletex returned a voucher without an id")
    if drifti is None:
        raise DriftiCommandFailed("the tenant has no Drifti connection to read the invoice PDF from")
    try:
        pdf = await drifti.invoices.pdf(command.source_entity_id)
    except DriftiNotFoundError:
        raise DriftiCommandFailed(f"Drifti has no PDF for invoice {command.source_entity_id}") from None
    name = PDF_FILENAME[invoice.invoice_kind].format(n=invoice.invoice_number)
    attached = await tx.ledger.upload_attachment_once(voucher_id, name, pdf)
    booked = "booked" if ensured.created else "found already booked (not duplicated)"
    pdf_note = "PDF attached" if attached.uploaded else "PDF was already attached"
    return _applied(
        command,
        voucher_id,
        f"D-I1: voucher {voucher_id} {plan.external_number} {booked}, {len(plan.postings)} postings "
        f"balancing at gross {invoice.gross_amount}; {pdf_note}; project {project_id} {project_note}",
    )


async def _book_payment(command: Command, tx: TripletexClient, payment: PaymentSnapshot) -> Outcome:
    plan = payment_voucher(command.source_entity_id, payment)
    customer_id, _ = await ensure_customer(tx, payment.customer)
    voucher = await _voucher(tx, plan, customer_id, None)
    ensured = await tx.ledger.ensure_voucher(voucher)
    if ensured.record.id is None:
        raise DriftiCommandFailed("Tripletex returned a voucher without an id")
    booked = "booked" if ensured.created else "found already booked (never twice)"
    return _applied(
        command,
        ensured.record.id,
        f"D-P1: payment voucher {ensured.record.id} {plan.external_number} {booked}: "
        f"{payment.amount} against invoice {payment.invoice_number}",
    )


async def _voucher(
    tx: TripletexClient, plan: VoucherPlan, customer_id: int, project_id: int | None
) -> Voucher:
    """The plan as a Tripletex voucher, with this company's ids for accounts and VAT codes."""
    numbers = sorted({p.account for p in plan.postings})
    accounts = await tx.ledger.accounts(numbers)
    missing = [str(n) for n in numbers if n not in accounts or accounts[n].id is None]
    if missing:
        raise DriftiCommandFailed(
            f"Tripletex has no account {', '.join(missing)}: map the Drifti account to one that exists (D-L1)"
        )
    postings = []
    for planned in plan.postings:
        vat_ref = None
        if planned.vat_code is not None:
            vat = await tx.ledger.vat_type(planned.vat_code)
            if vat is None or vat.id is None:
                raise DriftiCommandFailed(f"Tripletex has no VAT code {planned.vat_code}")
            vat_ref = Ref.to(vat.id)
        account_id = accounts[planned.account].id
        assert account_id is not None
        postings.append(
            Posting(
                row=planned.row,
                date=plan.date,
                description=planned.description,
                account=Ref.to(account_id),
                customer=Ref.to(customer_id) if planned.with_customer else None,
                project=Ref.to(project_id) if plan.tag_project and project_id is not None else None,
                vat_type=vat_ref,
                amount_gross=planned.amount_gross,
                amount_gross_currency=planned.amount_gross,
                invoice_number=planned.invoice_number,
                term_of_payment=planned.term_of_payment,
            )
        )
    voucher_type = None
    if plan.voucher_type is not None:
        found = await tx.ledger.voucher_type(plan.voucher_type)
        voucher_type = Ref.to(found.id) if found is not None and found.id is not None else None
    return Voucher(
        date=plan.date,
        description=plan.description,
        external_voucher_number=plan.external_number,
        voucher_type=voucher_type,
        postings=postings,
    )


def _applied(command: Command, record_id: int, reason: str) -> Outcome:
    return outcome_for(command, OutcomeStatus.APPLIED, target_entity_id=str(record_id), reason=reason)
