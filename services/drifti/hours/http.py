"""``POST /webhooks/drifti/{tenant_id}/export-hours``: what Drifti's "Export hours to Tripletex"
button calls. Runs the export (D-H1) and answers with its summary; exporting again is safe.

The call writes to the tenant's Tripletex, so it must be signed with the tenant's Drifti webhook
secret exactly as Drifti signs its webhooks (``X-Drifti-Signature`` over ``X-Drifti-Timestamp``
and the raw body): only Drifti, or someone holding that secret, can start an export. A tenant
without that secret cannot be exported over HTTP at all, and every refusal (unknown tenant, no
secret, no or wrong signature) is the same 401. It sits under ``/webhooks/`` because Drifti
reaches it through the public Ingress like its webhooks. Operators use ``tsync export-hours``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.core.http_edge import unauthorized
from services.core.publisher import Publisher
from services.core.tenants import TenantDirectory
from services.drifti.client import DriftiError
from services.drifti.hours.run import NotConnected, run_export
from services.drifti.hours.store import PostgresLinkStore
from services.drifti.ingest import authenticate_drifti
from services.tripletex.client.errors import TripletexError

log = logging.getLogger(__name__)

ROUTE = "/webhooks/drifti/{tenant_id}/export-hours"
MAX_PERIOD_DAYS = 93
"""The longest period one call exports (a quarter): longer ones are refused with 422."""


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    dry_run: bool = False


def hours_export_routes(
    tenants: TenantDirectory, publisher: Publisher, pool: Callable[[], Awaitable[asyncpg.Pool]]
) -> APIRouter:
    """The route; ``pool`` gives the process's database pool (opened once, on first use)."""
    router = APIRouter()

    @router.post(ROUTE)
    async def export_hours(tenant_id: str, request: Request) -> JSONResponse:
        raw = await request.body()
        tenant, refusal = await authenticate_drifti(tenants, tenant_id, raw, request)
        if tenant is None:
            return unauthorized(log, "an hours export", refusal)
        try:
            body = ExportRequest.model_validate_json(raw)
        except ValidationError as exc:
            details = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
            return JSONResponse({"error": "invalid request", "details": details}, status_code=422)
        if body.end < body.start:
            return JSONResponse({"error": "'to' is before 'from'"}, status_code=422)
        if (body.end - body.start).days + 1 > MAX_PERIOD_DAYS:
            return JSONResponse(
                {"error": f"the period is longer than {MAX_PERIOD_DAYS} days; export it in parts"},
                status_code=422,
            )
        try:
            done = await run_export(
                tenant,
                body.start,
                body.end,
                store=PostgresLinkStore(await pool()),
                publisher=publisher,
                dry_run=body.dry_run,
            )
        except NotConnected as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (DriftiError, TripletexError) as exc:
            # Nothing is lost: what was written stays, and the same export again finishes the rest.
            return JSONResponse(
                {"error": f"{type(exc).__name__}: {exc}", "retry": "export the same period again"},
                status_code=502,
            )
        return JSONResponse(done.export.summary())

    return router
