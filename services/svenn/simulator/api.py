"""The tenant-facing REST API under ``/api/v1`` (see ``services/svenn/API.md``).

Handlers stay thin: parse, call the rule in ``resources``, emit the change event, render.
Creates honour ``Idempotency-Key`` so a client that retries after a lost response gets the
original answer instead of a duplicate record.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.restsim.cursor_pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from services.restsim.error_envelope import not_found, validation_error
from services.restsim.idempotent_replay import replay_or_produce
from services.svenn.simulator import resources
from services.svenn.simulator.models import (
    CustomerCreate,
    CustomerPatch,
    EmployeeCreate,
    EmployeePatch,
    ProjectCreate,
    ProjectPatch,
    WebhookCreate,
    WebhookRecord,
)
from services.svenn.simulator.state import SimState, TenantState, new_id

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _tenant(request: Request) -> TenantState:
    tenant: TenantState = request.state.tenant
    return tenant


def _record_response(record: Any, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": f'"{record.version}"'}
    if location:
        headers["Location"] = location
    return JSONResponse(record.model_dump(mode="json"), status_code=status, headers=headers)


def _statuses(raw: str | None, allowed: set[str], include_deleted: bool) -> set[str]:
    if raw is None:
        return allowed if include_deleted else allowed - {"deleted"}
    wanted = {s.strip() for s in raw.split(",") if s.strip()}
    unknown = wanted - allowed
    if unknown:
        raise validation_error("status", f"Unknown status {sorted(unknown)}; allowed: {sorted(allowed)}.")
    return wanted


def _since(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise validation_error("updated_since", "Must include a timezone, e.g. 2026-01-31T12:00:00Z.")
    return value


def _filtered(
    records: Iterable[Any], statuses: set[str], since: datetime | None, **equals: str | None
) -> list[Any]:
    out = []
    for r in records:
        if r.status not in statuses or (since is not None and r.updated_at < since):
            continue
        if any(v is not None and _norm(getattr(r, k)) != _norm(v) for k, v in equals.items()):
            continue
        out.append(r)
    return out


def _norm(value: Any) -> Any:
    # E-mail matching is case-insensitive; every other filter is exact.
    return value.lower() if isinstance(value, str) and "@" in value else value


def _idempotent(
    tenant: TenantState, key: str | None, scope: str, body: Any, produce: Callable[[], JSONResponse]
) -> JSONResponse:
    return replay_or_produce(tenant.idempotency, key, scope, body, produce)


def build_api_router(state: SimState) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    # ----------------------------------------------------------------------- projects
    @router.get("/projects")
    async def list_projects(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        display_id: str | None = None,
        customer_id: str | None = None,
        parent_id: str | None = None,
        status: str | None = None,
        include_deleted: bool = False,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        tenant = _tenant(request)
        statuses = _statuses(status, {"active", "completed", "deleted"}, include_deleted)
        rows = _filtered(
            tenant.projects.values(),
            statuses,
            _since(updated_since),
            display_id=display_id,
            customer_id=customer_id,
            parent_id=parent_id,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/projects", status_code=201)
    async def create_project(
        request: Request, body: ProjectCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_project(tenant, body)
            state.emit(tenant, "project", record, "created")
            return _record_response(record, 201, f"/api/v1/projects/{record.id}")

        return _idempotent(tenant, idempotency_key, "project", body, produce)

    @router.get("/projects/{project_id}")
    async def get_project(request: Request, project_id: str) -> JSONResponse:
        return _record_response(resources.get_project(_tenant(request), project_id))

    @router.patch("/projects/{project_id}")
    async def patch_project(
        request: Request, project_id: str, body: ProjectPatch, if_match: IfMatch = None
    ) -> JSONResponse:
        tenant = _tenant(request)
        record, event = resources.update_project(tenant, project_id, body, resources.parse_if_match(if_match))
        state.emit(tenant, "project", record, event)
        return _record_response(record)

    @router.delete("/projects/{project_id}")
    async def delete_project(request: Request, project_id: str, if_match: IfMatch = None) -> JSONResponse:
        tenant = _tenant(request)
        record, event = resources.delete_project(tenant, project_id, resources.parse_if_match(if_match))
        state.emit(tenant, "project", record, event)
        return _record_response(record)

    # ---------------------------------------------------------------------- customers
    @router.get("/customers")
    async def list_customers(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        customer_number: str | None = None,
        organization_number: str | None = None,
        email: str | None = None,
        status: str | None = None,
        include_deleted: bool = False,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        tenant = _tenant(request)
        statuses = _statuses(status, {"active", "inactive", "deleted"}, include_deleted)
        rows = _filtered(
            tenant.customers.values(),
            statuses,
            _since(updated_since),
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
        return _record_response(resources.get_customer(_tenant(request), customer_id))

    @router.patch("/customers/{customer_id}")
    async def patch_customer(
        request: Request, customer_id: str, body: CustomerPatch, if_match: IfMatch = None
    ) -> JSONResponse:
        tenant = _tenant(request)
        record, event = resources.update_customer(
            tenant, customer_id, body, resources.parse_if_match(if_match)
        )
        state.emit(tenant, "customer", record, event)
        return _record_response(record)

    @router.delete("/customers/{customer_id}")
    async def delete_customer(request: Request, customer_id: str, if_match: IfMatch = None) -> JSONResponse:
        tenant = _tenant(request)
        record, event = resources.delete_customer(tenant, customer_id, resources.parse_if_match(if_match))
        state.emit(tenant, "customer", record, event)
        return _record_response(record)

    # ---------------------------------------------------------------------- employees
    @router.get("/employees")
    async def list_employees(
        request: Request,
        limit: Limit = DEFAULT_LIMIT,
        cursor: str | None = None,
        employee_number: str | None = None,
        email: str | None = None,
        status: str | None = None,
        updated_since: datetime | None = None,
    ) -> dict[str, Any]:
        tenant = _tenant(request)
        statuses = _statuses(status, {"active", "inactive"}, True)
        rows = _filtered(
            tenant.employees.values(),
            statuses,
            _since(updated_since),
            employee_number=employee_number,
            email=email,
        )
        return paginate(rows, lambda r: r.seq, limit, cursor)

    @router.post("/employees", status_code=201)
    async def create_employee(
        request: Request, body: EmployeeCreate, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        tenant = _tenant(request)

        def produce() -> JSONResponse:
            record = resources.create_employee(tenant, body)
            state.emit(tenant, "employee", record, "created")
            return _record_response(record, 201, f"/api/v1/employees/{record.id}")

        return _idempotent(tenant, idempotency_key, "employee", body, produce)

    @router.get("/employees/{employee_id}")
    async def get_employee(request: Request, employee_id: str) -> JSONResponse:
        return _record_response(resources.get_employee(_tenant(request), employee_id))

    @router.patch("/employees/{employee_id}")
    async def patch_employee(
        request: Request, employee_id: str, body: EmployeePatch, if_match: IfMatch = None
    ) -> JSONResponse:
        tenant = _tenant(request)
        record, event = resources.update_employee(
            tenant, employee_id, body, resources.parse_if_match(if_match)
        )
        state.emit(tenant, "employee", record, event)
        return _record_response(record)

    # ----------------------------------------------------------------------- webhooks
    @router.get("/webhooks")
    async def list_webhooks(request: Request) -> dict[str, Any]:
        hooks = [w.model_dump(mode="json") for w in _tenant(request).webhooks.values()]
        return {"data": hooks, "has_more": False, "next_cursor": None}

    @router.post("/webhooks", status_code=201)
    async def create_webhook(request: Request, body: WebhookCreate) -> JSONResponse:
        tenant = _tenant(request)
        generated = body.secret is None
        hook = WebhookRecord(
            id=new_id("whk"),
            url=body.url,
            secret=body.secret or f"whsec_{secrets.token_urlsafe(24)}",
            event_types=body.event_types,
            description=body.description,
            created_at=tenant.now(),
        )
        tenant.webhooks[hook.id] = hook
        out = hook.model_dump(mode="json")
        if generated:
            # Shown once, like every real provider does: we never return it again.
            out["secret"] = hook.secret
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
