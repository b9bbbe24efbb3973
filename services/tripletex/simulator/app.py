"""FastAPI application: middleware for Tripletex's cross-cutting behaviour, plus routers.

Per `/v2` request, in this order: a request id (`x-tlx-request-id`, repeated as
`requestId` in error bodies); Basic auth with user `0` (or blank, or the company id) and
the session token as password, else 401 code 3000; the rate budget of the token pair
(429 without `X-Rate-Limit-Reset` once spent); then the company's injected latency and
5xx faults. `/_sim/...` (admin) bypasses all of it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.tripletex.simulator import ledger  # noqa: F401  (registers voucher rules)
from services.tripletex.simulator.admin import build_admin_router
from services.tripletex.simulator.errors import INTERNAL_ERROR, RATE_LIMITED, TripletexError, unauthorized
from services.tripletex.simulator.faults import FaultConfig, RateDecision
from services.tripletex.simulator.resources import Ctx
from services.tripletex.simulator.routes import UNAUTHENTICATED, build_router
from services.tripletex.simulator.state import SimulatorState

REQUEST_ID_HEADER = "x-tlx-request-id"
_ANONYMOUS_FAULTS = FaultConfig()


def _error_response(
    request: Request, error: TripletexError, headers: dict[str, str] | None = None
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
    all_headers = {REQUEST_ID_HEADER: request_id, **(headers or {})}
    return JSONResponse(error.body(request_id), status_code=error.status, headers=all_headers)


def _session_token(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def create_app(state: SimulatorState | None = None) -> FastAPI:
    """Build the simulator app around `state` (a fresh, empty one by default)."""
    simulator = state or SimulatorState()
    app = FastAPI(title="Tripletex API v2 simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.simulator = simulator

    @app.middleware("http")
    async def tripletex_envelope(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = str(uuid.uuid4())
        request.state.request_id = request_id
        path = request.url.path
        if not path.startswith("/v2"):
            return await call_next(request)
        rate_key: tuple[str, str] = ("anonymous", request.client.host if request.client else "")
        faults = _ANONYMOUS_FAULTS
        is_open = (request.method, path) in UNAUTHENTICATED
        auth_error: TripletexError | None = None
        if not is_open:
            credentials = _session_token(request)
            session = simulator.valid_session(credentials[1]) if credentials else None
            if (
                session is None
                or credentials is None
                or credentials[0] not in ("", "0", str(session.company_id))
            ):
                auth_error = unauthorized()
            else:
                company = simulator.companies[session.company_id]
                host = request.headers.get("host", "localhost")
                request.state.ctx = Ctx(simulator, company, session.employee_id, host)
                rate_key = (session.consumer_token, session.employee_token)
                faults = company.faults
        decision: RateDecision = simulator.rate_limiter.take(
            rate_key, faults.rate_limit, faults.rate_period_seconds, simulator.monotonic()
        )
        rate_headers = decision.headers()
        if not decision.allowed:
            return _error_response(request, TripletexError(429, 429, RATE_LIMITED), rate_headers)
        if auth_error is not None:
            return _error_response(request, auth_error, rate_headers)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate and simulator.random.random() < faults.error_rate:
            return _error_response(
                request, TripletexError(faults.error_status, 1000, INTERNAL_ERROR), rate_headers
            )
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        for name, value in rate_headers.items():
            response.headers[name] = value
        return response

    @app.exception_handler(TripletexError)
    async def tripletex_error(request: Request, exc: TripletexError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_response(
                request, TripletexError(404, 6000, "Object not found", developer_message="No such path")
            )
        if exc.status_code == 405:
            return _error_response(request, TripletexError(405, 4000, "Method not allowed"))
        return _error_response(request, TripletexError(exc.status_code, 4000, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(
            request, TripletexError(422, 15000, "Validering feilet.", developer_message=str(exc))
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return _error_response(
            request,
            TripletexError(500, 1000, "Internal error", developer_message=f"{type(exc).__name__}: {exc}"),
        )

    app.include_router(build_router())
    app.include_router(build_admin_router())
    return app
