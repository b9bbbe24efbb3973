"""``POST /tenants/{tenant_id}/drifti/export-hours``: what Drifti's "Export hours to Tripletex"
button calls. Runs the export (D-H1) and answers with its summary; exporting again is safe.

The call writes to the tenant's Tripletex, so when the tenant has a Drifti webhook secret the
request must be signed with it exactly as Drifti signs its webhooks (``X-Drifti-Signature`` over
``X-Drifti-Timestamp`` and the raw body): only Drifti, or someone holding that secret, can
start an export. Operators use ``tsync export-hours`` instead.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from projections.database import Database
from services.core.publisher import Publisher
from services.core.tenants import TenantDirectory, UnknownTenant
from services.drifti.client import DriftiError, DriftiSignatureError
from services.drifti.client.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from services.drifti.hours.run import NotConnected, run_export
from services.drifti.hours.store import PostgresLinkStore
from services.tripletex.client.errors import TripletexError


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    dry_run: bool = False


def hours_export_routes(tenants: TenantDirectory, publisher: Publisher, database_url: str) -> APIRouter:
    router = APIRouter()

    @router.post("/tenants/{tenant_id}/drifti/export-hours")
    async def export_hours(tenant_id: str, request: Request) -> JSONResponse:
        try:
            tenant = await tenants.get(tenant_id)
        except UnknownTenant as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        raw = await request.body()
        secret = tenant.drifti.webhook_secret if tenant.drifti is not None else None
        if secret is not None:
            try:
                verify_signature(
                    secret, raw, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER)
                )
            except DriftiSignatureError as exc:
                return JSONResponse({"error": str(exc)}, status_code=401)
        try:
            body = ExportRequest.model_validate_json(raw)
        except ValidationError as exc:
            details = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
            return JSONResponse({"error": "invalid request", "details": details}, status_code=422)
        if body.end < body.start:
            return JSONResponse({"error": "'to' is before 'from'"}, status_code=422)
        # A monthly action: a pool of its own (migrated on open) rather than one held by every ingest.
        database = Database(database_url)
        await database.start()
        try:
            done = await run_export(
                tenant,
                body.start,
                body.end,
                store=PostgresLinkStore(database.pool),
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
        finally:
            await database.stop()
        return JSONResponse(done.export.summary())

    return router
