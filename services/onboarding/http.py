"""``GET /tenants/{tenant_id}/readiness``: the readiness report (dry run) over HTTP, for operators.

The report holds the tenant's records (names, e-mail addresses, ids) and reading it spends both
sides' rate limits, so it is served on the internal listener only and answers only a bearer
token from ``OPERATOR_TOKENS`` (none configured: every call refused). A tenant's own staff see
the same report in the panel, behind their session.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.core.http_edge import BearerTokens
from services.core.tenants import TenantDirectory, UnknownTenant
from services.onboarding.run import NotConnected, readiness

log = logging.getLogger(__name__)


def readiness_routes(tenants: TenantDirectory, operators: BearerTokens) -> APIRouter:
    router = APIRouter()

    @router.get("/tenants/{tenant_id}/readiness")
    async def tenant_readiness(tenant_id: str, request: Request) -> JSONResponse:
        operator = operators.admit(request, log, "a readiness report")
        if isinstance(operator, JSONResponse):
            return operator
        log.info("readiness report asked for", extra={"tenant_id": tenant_id, "operator": operator})
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
