"""The tenant-facing REST API under ``/api/v1`` (see ``services/drifti/API.md``).

Handlers stay thin: parse, call the rule in ``resources``, emit the change event for the
streamed kinds (customer, job, invoice, payment), render. Users, hourly rates, time entries
and ledger accounts are read by polling (hours are exported on demand, D-H1), so they have
no events. Creates honour ``Idempotency-Key`` so a client retrying after a lost response
gets the original answer instead of a second invoice.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.drifti.simulator import resources
from services.drifti.simulator.models import (
    CustomerCreate,
    CustomerPatch,
    HourlyRateCreate,
    HourlyRatePatch,
    InvoiceCreate,
    JobCreate,
    JobPatch,
    LedgerAccountCreate,
    PaymentCreate,
    TimeEntryCreate,
    TimeEntryPatch,
    UserCreate,
    UserPatch,
    WebhookCreate,
    WebhookRecord,
)
from services.drifti.simulator.pdf import render_invoice
from services.drifti.simulator.state import SimState, TenantState
from services.restsim.cursor_pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from services.restsim.error_envelope import not_found, validation_error
from services.restsim.idempotent_replay import replay_or_produce

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
DateFrom = Annotated[date | None, Query(alias="from", description="inclusive")]
DateTo = Annotated[date | None, Query(alias="to", description="inclusive")]


# Drifti words the key-reuse refusal slightly differently from Svenn.
REUSED_MESSAGE = "This Idempotency-Key was used before with a different body."


def _tenant(request: Request) -> TenantState:
    tenant: TenantState = request.state.tenant
    return tenant


def _record_response(record: Any, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": f'"{record.version}"'}
    if location:
        headers["Location"] = location
    return JSONResponse(record.model_dump(mode="json"), status_code=status, headers=headers)


def _since(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise validation_error("updated_since", "Must include a timezone, e.g. 2026-01-31T12:00:00Z.")
    return value


def _period(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise validation_error("to", "Must be on or after from.")


def _choices(raw: str | None, field: str, allowed: set[str]) -> set[str] | None:
    if raw is None:
        return None
    wanted = {s.strip() for s in raw.split(",") if s.strip()}
    unknown = wanted - allowed
    if unknown or not wanted:
        raise validation_error(field, f"Unknown value {sorted(unknown)}; allowed: {sorted(allowed)}.")
    return wanted


def _select(
    records: Iterable[Any],
    *,
    since: datetime | None = None,
    keep: Callable[[Any], bool] | None = None,
    **equals: Any,
) -> list[Any]:
    """Records matching every given filter; ``None`` filters are ignored."""
    since = _since(since)
    out = []
    for r in records:
        if since is not None and r.updated_at < since:
            continue
        if any(v is not None and _norm(getattr(r, k)) != _norm(v) for k, v in equals.items()):
            continue
        if keep is not None and not keep(r):
            continue
        out.append(r)
    return out


def _norm(value: Any) -> Any:
    # E-mail matching is case-insensitive; every other filter is exact.
    return value.lower() if isinstance(value, str) and "@" in value else value


def _idempotent(
    tenant: TenantState, key: str | None, scope: str, body: Any, produce: Callable[[], JSONResponse]
) -> JSONResponse:
    return replay_or_produce(tenant.idempotency, key, scope, body, produce, reused_message=REUSED_MESSAGE)


def build_api_router(state: SimState) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        """Who this key belongs to: the engine checks it against the tenant it thinks it serves."""
        tenant = _tenant(request)
        enabled = tenant.integration_enabled_at
        return {
            "tenant": tenant.name,
            "company_name": tenant.company_name,
            "currency": "NOK",
            "integration_enabled_at": enabled.isoformat().replace("+00:00", "Z") if enabled else None,
        }

    # ------------------------------------------------------------------------ customers
    @router.get("/customers")
    async def list_customers(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        customer_number: str | None = None,
        organization_number: str | None = None,
        email: str | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        rows = _select(
            _tenant(request).customers.values(),
            since=updated_since,
            customer_number=customer_number,
            organization_number=organization_number,
            email=email,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/customers", status_code=201)
    async def create_customer(
        request: Request, body: CustomerCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_customer(tenant, body)
            state.emit(tenant, "customer", record, "created")
            return _record_response(record, 201, f"/api/v1/customers/{record.id}")

        return _idempotent(tenant, idempotency_key, "customer", body, produce)

    @router.get("/customers/{customer_id}")
    async def get_customer(request: Request, customer_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).customers, "customer", customer_id))

    @router.patch("/customers/{customer_id}")
    async def patch_customer(request: Request, customer_id: str, body: CustomerPatch) -> JSONResponse:
        tenant = _tenant(request)
        record, changed = resources.update_customer(tenant, customer_id, body)
        state.emit(tenant, "customer", record, "updated" if changed else None)
        return _record_response(record)

    # ----------------------------------------------------------------------------- jobs
    @router.get("/jobs")
    async def list_jobs(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        job_number: str | None = None,
        customer_id: str | None = None,
        status: str | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        statuses = _choices(status, "status", {"open", "closed"})
        rows = _select(
            _tenant(request).jobs.values(),
            since=updated_since,
            keep=(lambda r: r.status in statuses) if statuses else None,
            job_number=job_number,
            customer_id=customer_id,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/jobs", status_code=201)
    async def create_job(request: Request, body: JobCreate, idempotency_key: IdemKey = None) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_job(tenant, body)
            state.emit(tenant, "job", record, "created")
            return _record_response(record, 201, f"/api/v1/jobs/{record.id}")

        return _idempotent(tenant, idempotency_key, "job", body, produce)

    @router.get("/jobs/{job_id}")
    async def get_job(request: Request, job_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).jobs, "job", job_id))

    @router.patch("/jobs/{job_id}")
    async def patch_job(request: Request, job_id: str, body: JobPatch) -> JSONResponse:
        tenant = _tenant(request)
        record, changed = resources.update_job(tenant, job_id, body)
        state.emit(tenant, "job", record, "updated" if changed else None)
        return _record_response(record)

    # ------------------------------------------------------------------------- invoices
    @router.get("/invoices")
    async def list_invoices(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        invoice_number: int | None = None,
        kind: str | None = None,
        customer_id: str | None = None,
        job_id: str | None = None,
        kid: str | None = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        _period(date_from, date_to)
        kinds = _choices(kind, "kind", {"invoice", "credit_note"})
        rows = _select(
            _tenant(request).invoices.values(),
            since=updated_since,
            keep=lambda r: (
                (kinds is None or r.kind in kinds) and resources.in_period(r.invoice_date, date_from, date_to)
            ),
            invoice_number=invoice_number,
            customer_id=customer_id,
            job_id=job_id,
            kid=kid,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/invoices", status_code=201)
    async def create_invoice(
        request: Request, body: InvoiceCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record, original = resources.create_invoice(tenant, body)
            state.emit(tenant, "invoice", record, "created")
            if original is not None:
                state.emit(tenant, "invoice", original, "updated")
            return _record_response(record, 201, f"/api/v1/invoices/{record.id}")

        return _idempotent(tenant, idempotency_key, "invoice", body, produce)

    @router.get("/invoices/{invoice_id}")
    async def get_invoice(request: Request, invoice_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).invoices, "invoice", invoice_id))

    @router.get("/invoices/{invoice_id}/pdf")
    async def invoice_pdf(request: Request, invoice_id: str) -> Response:
        tenant = _tenant(request)
        invoice = resources.get(tenant.invoices, "invoice", invoice_id)
        credited = tenant.invoices.get(invoice.credited_invoice_id or "")
        pdf = render_invoice(
            invoice,
            tenant.customers[invoice.customer_id],
            tenant.jobs[invoice.job_id],
            tenant.company_name,
            credited.invoice_number if credited is not None else None,
        )
        prefix = "kreditnota" if invoice.kind == "credit_note" else "faktura"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{prefix}-{invoice.invoice_number}.pdf"',
                "ETag": f'"{hashlib.sha256(pdf).hexdigest()[:32]}"',
            },
        )

    # ------------------------------------------------------------------------- payments
    @router.get("/payments")
    async def list_payments(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        method: str | None = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        _period(date_from, date_to)
        methods = _choices(method, "method", {"kid", "manual"})
        rows = _select(
            _tenant(request).payments.values(),
            since=updated_since,
            keep=lambda r: (
                (methods is None or r.method in methods)
                and resources.in_period(r.payment_date, date_from, date_to)
            ),
            invoice_id=invoice_id,
            customer_id=customer_id,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/payments", status_code=201)
    async def create_payment(
        request: Request, body: PaymentCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record, invoice = resources.create_payment(tenant, body)
            state.emit(tenant, "payment", record, "created")
            if invoice is not None:
                state.emit(tenant, "invoice", invoice, "updated")
            return _record_response(record, 201, f"/api/v1/payments/{record.id}")

        return _idempotent(tenant, idempotency_key, "payment", body, produce)

    @router.get("/payments/{payment_id}")
    async def get_payment(request: Request, payment_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).payments, "payment", payment_id))

    # ---------------------------------------------------------------------------- users
    @router.get("/users")
    async def list_users(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        email: str | None = None,
        employee_number: str | None = None,
        active: bool | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        rows = _select(
            _tenant(request).users.values(),
            since=updated_since,
            email=email,
            employee_number=employee_number,
            active=active,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/users", status_code=201)
    async def create_user(
        request: Request, body: UserCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_user(tenant, body)
            return _record_response(record, 201, f"/api/v1/users/{record.id}")

        return _idempotent(tenant, idempotency_key, "user", body, produce)

    @router.get("/users/{user_id}")
    async def get_user(request: Request, user_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).users, "user", user_id))

    @router.patch("/users/{user_id}")
    async def patch_user(request: Request, user_id: str, body: UserPatch) -> JSONResponse:
        record, _ = resources.update_user(_tenant(request), user_id, body)
        return _record_response(record)

    # --------------------------------------------------------------------- hourly rates
    @router.get("/hourly-rates")
    async def list_hourly_rates(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        active: bool | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        rows = _select(_tenant(request).hourly_rates.values(), since=updated_since, active=active)
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/hourly-rates", status_code=201)
    async def create_hourly_rate(
        request: Request, body: HourlyRateCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_hourly_rate(tenant, body)
            return _record_response(record, 201, f"/api/v1/hourly-rates/{record.id}")

        return _idempotent(tenant, idempotency_key, "hourly_rate", body, produce)

    @router.get("/hourly-rates/{rate_id}")
    async def get_hourly_rate(request: Request, rate_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).hourly_rates, "hourly rate", rate_id))

    @router.patch("/hourly-rates/{rate_id}")
    async def patch_hourly_rate(request: Request, rate_id: str, body: HourlyRatePatch) -> JSONResponse:
        record, _ = resources.update_hourly_rate(_tenant(request), rate_id, body)
        return _record_response(record)

    # --------------------------------------------------------------------- time entries
    @router.get("/time-entries")
    async def list_time_entries(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        status: str | None = None,
        user_id: str | None = None,
        job_id: str | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        _period(date_from, date_to)
        statuses = _choices(status, "status", {"pending", "approved", "rejected"})
        rows = _select(
            _tenant(request).time_entries.values(),
            since=updated_since,
            keep=lambda r: (
                (statuses is None or r.status in statuses) and resources.in_period(r.date, date_from, date_to)
            ),
            user_id=user_id,
            job_id=job_id,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/time-entries", status_code=201)
    async def create_time_entry(
        request: Request, body: TimeEntryCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_time_entry(tenant, body)
            return _record_response(record, 201, f"/api/v1/time-entries/{record.id}")

        return _idempotent(tenant, idempotency_key, "time_entry", body, produce)

    @router.get("/time-entries/{entry_id}")
    async def get_time_entry(request: Request, entry_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).time_entries, "time entry", entry_id))

    @router.patch("/time-entries/{entry_id}")
    async def patch_time_entry(request: Request, entry_id: str, body: TimeEntryPatch) -> JSONResponse:
        record, _ = resources.update_time_entry(_tenant(request), entry_id, body)
        return _record_response(record)

    # ------------------------------------------------------------------ ledger accounts
    @router.get("/ledger-accounts")
    async def list_ledger_accounts(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        number: str | None = None,
        active: bool | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        rows = _select(
            _tenant(request).ledger_accounts.values(), since=updated_since, number=number, active=active
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/ledger-accounts", status_code=201)
    async def create_ledger_account(
        request: Request, body: LedgerAccountCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_ledger_account(tenant, body)
            return _record_response(record, 201, f"/api/v1/ledger-accounts/{record.id}")

        return _idempotent(tenant, idempotency_key, "ledger_account", body, produce)

    @router.get("/ledger-accounts/{account_id}")
    async def get_ledger_account(request: Request, account_id: str) -> JSONResponse:
        return _record_response(resources.get(_tenant(request).ledger_accounts, "ledger account", account_id))

    # ------------------------------------------------------------------------- webhooks
    @router.get("/webhooks")
    async def list_webhooks(request: Request) -> dict[str, Any]:
        hooks = [w.model_dump(mode="json") for w in _tenant(request).webhooks.values()]
        return {"data": hooks, "has_more": False, "next_cursor": None}

    @router.post("/webhooks", status_code=201)
    async def create_webhook(request: Request, body: WebhookCreate) -> JSONResponse:
        tenant = _tenant(request)
        generated = body.secret is None
        hook = WebhookRecord(
            id=tenant.new_id("whk"),
            url=body.url,
            secret=body.secret or f"whsec_{secrets.token_urlsafe(24)}",
            event_types=body.event_types,
            description=body.description,
            created_at=tenant.now(),
        )
        tenant.webhooks[hook.id] = hook
        out = hook.model_dump(mode="json")
        if generated:
            out["secret"] = hook.secret  # shown once, never again
        return JSONResponse(out, status_code=201)

    @router.get("/webhooks/{webhook_id}")
    async def get_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
        hook = _tenant(request).webhooks.get(webhook_id)
        if hook is None:
            raise not_found("webhook", webhook_id)
        return hook.model_dump(mode="json")

    @router.delete("/webhooks/{webhook_id}", status_code=204)
    async def delete_webhook(request: Request, webhook_id: str) -> Response:
        hook = _tenant(request).webhooks.pop(webhook_id, None)
        if hook is None:
            raise not_found("webhook", webhook_id)
        hook.active = False  # stops retries still queued for it
        return Response(status_code=204)

    return router
