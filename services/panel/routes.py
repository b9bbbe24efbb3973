"""The panel's pages under ``/panel``: login, then one tenant's overview, error log, links, decisions
and readiness report. Server-rendered (Jinja2), no scripts: every action is a link or a form.

Every tenant page passes through ``_authorize``: a valid, unrevoked session for *that* tenant,
or no page (no session: to the login form; another tenant's session: 403). Queries take the
tenant id from the path only after that check, so one tenant's staff never read another's rows.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from contracts.envelope import EntityType, SourceSystem, Verdict
from contracts.error_codes import CATALOG
from projections.database import Database
from services.core import safe_errors
from services.core.publisher import Publisher
from services.core.tenants import TenantDirectory, UnknownTenant
from services.onboarding.readiness import Action
from services.onboarding.run import NotConnected, readiness
from services.panel import access, queries
from services.panel.retry import RETRYABLE_SIDES, CannotRetry, retry
from services.panel.session import COOKIE, LIFETIME_S, Session, SessionSigner
from services.tripletex.ingest import ClientFactory

log = logging.getLogger(__name__)

PREFIX = "/panel"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
OSLO = ZoneInfo("Europe/Oslo")  # the users' clock: Svenn's and Tripletex's customers are Norwegian


def _when(moment: datetime | None) -> str:
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S") if moment else "\u2013"  # an en dash


TEMPLATES.env.filters["when"] = _when
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
SIDES = [s.value for s in SourceSystem]
ENTITIES = [e.value for e in EntityType]
STATES = ["open", "resolved", "all"]


def _one_of(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else None


def panel_routes(
    database: Database,
    tenants: TenantDirectory,
    publisher: Publisher,
    tripletex: ClientFactory,
    session_secret: str | None = None,
    *,
    cookie_secure: bool = True,
) -> APIRouter:
    """The panel's pages. ``cookie_secure``: behind a TLS Ingress the process sees plain http, so
    the cookie is ``Secure`` unless a setting says this is plain-http local use."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    signer = SessionSigner(session_secret)

    def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        cookie = request.cookies.get(COOKIE)
        context.setdefault("csrf", signer.csrf(cookie) if cookie else "")
        context.setdefault("prefix", PREFIX)
        return TEMPLATES.TemplateResponse(
            request, template, context, status_code=status_code, headers=_HEADERS
        )

    async def current(request: Request) -> Session | None:
        session = signer.read(request.cookies.get(COOKIE))
        if session is None or not await access.is_active(database.pool, session.access_id, session.tenant_id):
            return None
        return session

    async def _authorize(request: Request, tenant_id: str) -> Session | Response:
        session = await current(request)
        if session is None:
            return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=_HEADERS)
        if session.tenant_id != tenant_id:
            return render(request, "denied.html", 403, tenant_id=session.tenant_id, view="denied")
        return session

    @router.get("")
    @router.get("/")
    async def index(request: Request) -> Response:
        session = await current(request)
        target = f"{PREFIX}/{session.tenant_id}/" if session else f"{PREFIX}/login"
        return RedirectResponse(target, status_code=303)

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        return render(request, "login.html", error=None)

    @router.post("/login")
    async def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
        found = await access.authenticate(database.pool, token) if token.strip() else None
        if found is None:
            return render(request, "login.html", 401, error=True)
        response = RedirectResponse(f"{PREFIX}/{found.tenant_id}/", status_code=303, headers=_HEADERS)
        response.set_cookie(
            COOKIE,
            signer.issue(found.access_id, found.tenant_id),
            max_age=LIFETIME_S,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=cookie_secure,
        )
        return response

    @router.post("/logout")
    async def logout() -> Response:
        response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=_HEADERS)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @router.get("/{tenant_id}/")
    async def overview(request: Request, tenant_id: str) -> Response:
        if isinstance(gate := await _authorize(request, tenant_id), Response):
            return gate
        summary = await queries.overview(database.pool, tenant_id)
        return render(request, "overview.html", tenant_id=tenant_id, view="overview", summary=summary)

    @router.get("/{tenant_id}/errors")
    async def error_log(
        request: Request,
        tenant_id: str,
        code: str | None = None,
        side: str | None = None,
        entity: str | None = None,
        record: str | None = None,
        state: str = "open",
        retried: str | None = None,
        retry_error: str | None = None,
    ) -> Response:
        if isinstance(gate := await _authorize(request, tenant_id), Response):
            return gate
        wanted = queries.ErrorFilter(
            code=_one_of(code, sorted(CATALOG)),
            side=_one_of(side, SIDES),
            entity=_one_of(entity, ENTITIES),
            record=record.strip() if record and record.strip() else None,
            state="open" if state not in STATES else state,  # type: ignore[arg-type]
        )
        rows = await queries.errors(database.pool, tenant_id, wanted)
        return render(
            request,
            "errors.html",
            tenant_id=tenant_id,
            view="errors",
            rows=rows,
            wanted=wanted,
            codes=sorted(CATALOG),
            sides=SIDES,
            entities=ENTITIES,
            states=STATES,
            retryable=RETRYABLE_SIDES,
            retried=retried,
            retry_error=retry_error,
            query=str(request.url.query),
        )

    @router.post("/{tenant_id}/errors/retry")
    async def retry_record(
        request: Request,
        tenant_id: str,
        side: Annotated[str, Form()],
        entity_type: Annotated[str, Form()],
        entity_id: Annotated[str, Form()],
        csrf: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "",
    ) -> Response:
        if isinstance(gate := await _authorize(request, tenant_id), Response):
            return gate
        if csrf != signer.csrf(request.cookies.get(COOKIE, "")):
            return render(request, "denied.html", 403, tenant_id=tenant_id, view="denied", csrf_failed=True)
        if (
            side not in SIDES
            or entity_type not in ENTITIES
            or not await queries.has_error(database.pool, tenant_id, side, entity_type, entity_id)
        ):
            return render(request, "denied.html", 404, tenant_id=tenant_id, view="denied", missing=True)
        params = dict(parse_qsl(back))
        params.pop("retried", None)
        params.pop("retry_error", None)
        try:
            event = await retry(
                tenants,
                tripletex,
                publisher,
                tenant_id,
                SourceSystem(side),
                EntityType(entity_type),
                entity_id,
            )
            params["retried"] = f"{side} {entity_type} {entity_id} ({event.event_id})"
        except (CannotRetry, UnknownTenant, NotConnected) as exc:
            params["retry_error"] = str(exc)
        except (TimeoutError, KafkaError):  # Kafka is away: the user tries again, nothing is half done
            params["retry_error"] = (
                "Endringen kunne ikke lagres nå; prøv igjen om litt. (Could not be stored; retry.)"
            )
        return RedirectResponse(
            f"{PREFIX}/{tenant_id}/errors?{urlencode(params)}", status_code=303, headers=_HEADERS
        )

    @router.get("/{tenant_id}/links")
    async def link_table(request: Request, tenant_id: str, q: str | None = None) -> Response:
        if isinstance(gate := await _authorize(request, tenant_id), Response):
            return gate
        rows = await queries.links(database.pool, tenant_id, q)
        return render(request, "links.html", tenant_id=tenant_id, view="links", rows=rows, q=q or "")

    @router.get("/{tenant_id}/decisions")
    async def decision_log(
        request: Request, tenant_id: str, entity_id: str | None = None, verdict: str | None = None
    ) -> Response:
        if isinstance(gate := await _authorize(request, tenant_id), Response):
            return gate
        verdict = _one_of(verdict, [v.value for v in Verdict])
        rows = await queries.decisions(database.pool, tenant_id, entity_id, verdict)
        return render(
            request,
            "decisions.html",
            tenant_id=tenant_id,
            view="decisions",
            rows=rows,
            entity_id=entity_id or "",
            verdict=verdict or "",
            verdicts=[v.value for v in Verdict],
        )

    @router.get("/{tenant_id}/readiness")
    async def readiness_report(request: Request, tenant_id: str) -> Response:
        if isinstance(gate := await _authorize(request, tenant_id), Response):
            return gate
        report, problem = None, None
        try:
            report = await readiness(await tenants.get(tenant_id))
        except UnknownTenant:
            problem = "not_registered"
        except NotConnected:
            problem = "not_connected"
        except Exception as exc:  # a side is down or refuses: say so on the page, not with a 500
            log.warning(
                "readiness report failed", extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)}
            )
            problem = "unreachable"
        counts = report.counts() if report else {}
        return render(
            request,
            "readiness.html",
            tenant_id=tenant_id,
            view="readiness",
            report=report,
            problem=problem,
            actions=list(Action),
            entity_types=sorted({e for e, _ in counts}),
            counts=counts,
        )

    return router
