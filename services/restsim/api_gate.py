"""The gate every ``/api/v1`` request passes: request id, tenant auth, rate limit, faults.

Doing this once, before routing, means every endpoint — including ones added later — is
authenticated, counted against its tenant's budget and subject to injected faults. Paths
outside ``/api/v1`` (``/_sim`` admin routes) skip the gate on purpose: a test must be able
to repair a tenant it has just rate-limited into the ground. Shared by the Svenn and Drifti
simulators; ``realm`` is the product name in the ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import FastAPI, Request, Response

from services.restsim.error_envelope import REQUEST_ID_HEADER, error_response
from services.restsim.faults import TenantFaults

API_PREFIX = "/api/v1"


class GatedTenant(Protocol):
    """What the gate needs of a tenant: its live fault state."""

    faults: TenantFaults


# Returns the tenant owning an API key, or None; ``Any`` so each simulator's TenantState fits.
TenantForKey = Callable[[str], Any]


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def install_api_gate(app: FastAPI, tenant_for_key: TenantForKey, *, realm: str) -> None:
    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = f"req_{uuid.uuid4().hex[:16]}"
        response = await _gate(request, call_next, tenant_for_key, realm)
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
        return response


async def _gate(
    request: Request,
    call_next: Callable[[Request], Awaitable[Response]],
    tenant_for_key: TenantForKey,
    realm: str,
) -> Response:
    if not request.url.path.startswith(API_PREFIX):
        return await call_next(request)

    key = bearer_key(request)
    tenant: GatedTenant | None = tenant_for_key(key) if key else None
    if tenant is None:
        # Same answer for a missing and a wrong key: nothing to learn by probing.
        return error_response(
            request,
            401,
            "UNAUTHORIZED",
            "Missing or invalid API key. Send Authorization: Bearer <api key>.",
            headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )
    request.state.tenant = tenant
    faults = tenant.faults

    window = faults.window
    if not window.try_acquire():
        headers = window.headers()
        headers["Retry-After"] = window.retry_after()
        return error_response(
            request,
            429,
            "RATE_LIMITED",
            f"Rate limit of {window.config.limit} requests per {window.config.period_seconds:g}s exceeded.",
            headers=headers,
        )

    if faults.config.latency_ms:
        await asyncio.sleep(faults.config.latency_ms / 1000)

    fail = faults.should_fail()
    if fail and not faults.config.error_after_commit:
        response = _fault_response(request, faults.config.error_status)
    else:
        response = await call_next(request)
        if fail:
            response = _fault_response(request, faults.config.error_status)
    for name, value in window.headers().items():
        response.headers[name] = value
    return response


def _fault_response(request: Request, status: int) -> Response:
    return error_response(
        request, status, "SERVER_ERROR", "Injected fault: the server failed to handle the request."
    )
