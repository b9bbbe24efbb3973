"""``GET /tenants/{tenant_id}/readiness``: the readiness report (dry run) over HTTP."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.core.tenants import TenantDirectory, UnknownTenant
from services.onboarding.run import NotConnected, readiness


def readiness_routes(tenants: TenantDirectory) -> APIRouter:
    router = APIRouter()

    @router.get("/tenants/{tenant_id}/readiness")
    async def tenant_readiness(tenant_id: str) -> JSONResponse:
        try:
            report = await readiness(await tenants.get(tenant_id))
        except UnknownTenant as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except NotConnected as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        counts = [
            {"entity_type": entity.value, "action": action.value, "count": n}
            for (entity, action), n in sorted(report.counts().items())
        ]
        return JSONResponse(
            {
                "tenant_id": tenant_id,
                "dry_run": True,
                "counts": counts,
                "items": [asdict(i) for i in report.items],
            }
        )

    return router
