"""Test and operator controls under `/_sim` (deliberately outside `/v2`).

Create companies and get their tokens, reset everything, dump a company's data, set its
faults (5xx rate, latency, rate budget), seed charged invoices, lock timesheet entries,
and inspect webhook deliveries. No auth: the simulator only listens on loopback.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.tripletex.simulator import ledger
from services.tripletex.simulator.errors import TripletexError, not_found
from services.tripletex.simulator.resources import Ctx
from services.tripletex.simulator.state import Company, SimulatorState


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise TripletexError(422, 22000, "Ugyldig JSON.") from exc
    if not isinstance(body, dict):
        raise TripletexError(422, 22000, "Forventet et JSON-objekt.")
    return body


def _company(request: Request) -> Company:
    try:
        company_id = int(request.path_params["company_id"])
    except ValueError as exc:
        raise not_found("company") from exc
    company = _state(request).companies.get(company_id)
    if company is None:
        raise not_found(f"company {company_id}")
    return company


def company_summary(company: Company) -> dict[str, Any]:
    return {
        "id": company.id,
        "name": company.name,
        "consumerToken": company.consumer_token,
        "employeeToken": company.employee_token,
        "apiEmployeeId": company.api_employee_id,
    }


def build_admin_router() -> APIRouter:
    router = APIRouter(prefix="/_sim")

    @router.post("/companies", include_in_schema=False)
    async def create_company(request: Request) -> Response:
        body = await _json(request)
        company = _state(request).create_company(
            str(body.get("name") or "Simulert AS"),
            consumer_token=body.get("consumerToken"),
            employee_token=body.get("employeeToken"),
        )
        return JSONResponse(company_summary(company), status_code=201)

    @router.get("/companies", include_in_schema=False)
    async def list_companies(request: Request) -> Response:
        return JSONResponse([company_summary(c) for c in _state(request).companies.values()])

    @router.get("/companies/{company_id}", include_in_schema=False)
    async def dump_company(request: Request) -> Response:
        return JSONResponse(json.loads(json.dumps(_company(request).dump(), default=str)))

    @router.post("/reset", include_in_schema=False)
    async def reset(request: Request) -> Response:
        _state(request).reset()
        return Response(status_code=204)

    @router.get("/companies/{company_id}/faults", include_in_schema=False)
    async def get_faults(request: Request) -> Response:
        return JSONResponse(_company(request).faults.to_json())

    @router.put("/companies/{company_id}/faults", include_in_schema=False)
    async def set_faults(request: Request) -> Response:
        company = _company(request)
        company.faults.update(await _json(request))
        return JSONResponse(company.faults.to_json())

    @router.post("/companies/{company_id}/invoices", include_in_schema=False)
    async def seed_invoice(request: Request) -> Response:
        company = _company(request)
        ctx = Ctx(_state(request), company, company.api_employee_id, request.headers.get("host", "localhost"))
        invoice = ledger.seed_invoice(ctx, await _json(request))
        return JSONResponse({"id": invoice["id"], "invoiceNumber": invoice["invoiceNumber"]}, status_code=201)

    @router.put("/companies/{company_id}/timesheet/{entry_id}/lock", include_in_schema=False)
    async def lock_entry(request: Request) -> Response:
        company = _company(request)
        entry = company.get("TimesheetEntry", int(request.path_params["entry_id"]))
        if entry is None:
            raise not_found("timesheet entry")
        entry["locked"] = True
        return JSONResponse({"id": entry["id"], "locked": True})

    @router.get("/webhooks", include_in_schema=False)
    async def webhooks(request: Request) -> Response:
        state = _state(request)
        company_id = request.query_params.get("companyId")
        status = request.query_params.get("status")
        rows = [
            d.to_json()
            for d in state.webhooks.deliveries
            if (company_id is None or str(d.company_id) == company_id)
            and (status is None or d.status == status)
        ]
        return JSONResponse(rows)

    @router.post("/webhooks/drain", include_in_schema=False)
    async def drain(request: Request) -> Response:
        await _state(request).webhooks.drain()
        return Response(status_code=204)

    return router
