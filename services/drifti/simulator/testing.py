"""An in-process harness around the Drifti simulator, for this package's tests and the engine's.

``Sim`` bundles a fresh simulator, an admin HTTP client, a webhook ``Receiver`` that the
simulator delivers to through ``httpx.ASGITransport`` (a real POST with a real signature,
no socket), and factories for tenants and ``DriftiClient``s wired to the same app. The
Drifti flows (D-*) can reuse it instead of re-building the wiring. ``Sleeps`` and
``serve_asgi`` are the Svenn harness's, re-exported: nothing about them is Svenn-specific.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from services.drifti.client import DriftiClient, RetryPolicy
from services.drifti.simulator.app import create_app
from services.drifti.simulator.state import SimState
from services.drifti.simulator.webhooks import WebhookSettings
from services.svenn.simulator.testing import Sleeps, serve_asgi

__all__ = ["BASE_URL", "RECEIVER_URL", "Receiver", "Sim", "Sleeps", "running_sim", "serve_asgi"]

BASE_URL = "http://drifti.test"
RECEIVER_URL = "http://receiver.test/hooks/drifti"


@dataclass
class Receiver:
    """A webhook endpoint that records raw deliveries and fails on demand."""

    fail_first: int = 0
    status_on_failure: int = 500
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/drifti")
        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), dict(request.headers)))
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(status_code=self.status_on_failure)
            return Response(status_code=204)

        return app


@dataclass
class Sim:
    """One running simulator and the handles a test needs to drive and inspect it."""

    state: SimState
    app: FastAPI
    admin: httpx.AsyncClient
    receiver: Receiver
    sleeps: Sleeps

    async def tenant(self, name: str | None = None, **options: Any) -> tuple[str, str]:
        """Create a tenant (``demo={"seed": 1, "month": "2026-10"}`` for a demo month)."""
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        r = await self.admin.post("/_sim/tenants", json={"name": name, **options})
        r.raise_for_status()
        return r.json()["tenant"], r.json()["api_key"]

    def client(self, api_key: str, **kwargs: Any) -> DriftiClient:
        kwargs.setdefault("retry", RetryPolicy(backoff_base=0.01, backoff_max=0.05))
        kwargs.setdefault("sleep", self.sleeps)
        return DriftiClient(BASE_URL, api_key, transport=httpx.ASGITransport(app=self.app), **kwargs)

    async def faults(self, tenant: str, **config: Any) -> None:
        r = await self.admin.put(f"/_sim/tenants/{tenant}/faults", json=config)
        r.raise_for_status()

    async def deliveries(self, tenant: str) -> list[dict[str, Any]]:
        await self.state.dispatcher.drain(5)
        r = await self.admin.get(f"/_sim/tenants/{tenant}/deliveries")
        rows: list[dict[str, Any]] = r.json()["data"]
        return rows


@asynccontextmanager
async def running_sim(retry_delays: tuple[float, ...] = (0.01, 0.02, 0.04)) -> AsyncIterator[Sim]:
    """A fresh simulator whose webhooks go to an in-process ``Receiver``; torn down on exit."""
    receiver = Receiver()
    delivery_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
    state = SimState(
        webhook_settings=WebhookSettings(retry_delays=retry_delays, timeout_seconds=2.0),
        delivery_client=delivery_client,
    )
    app = create_app(state)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as admin:
            yield Sim(state=state, app=app, admin=admin, receiver=receiver, sleeps=Sleeps())
    finally:
        state.dispatcher.cancel_all()
        await delivery_client.aclose()
