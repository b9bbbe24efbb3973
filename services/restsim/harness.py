"""In-process test harness pieces shared by the Svenn and Drifti simulators.

A webhook ``WebhookReceiver`` the simulator delivers to through ``httpx.ASGITransport`` (a real
POST with a real signature, no socket), the ``SimHandles`` a test drives a running simulator
with, and ``run_simulator`` that wires them and tears them down. Each product's
``simulator/testing.py`` adds its tenant and client factories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import httpx
from fastapi import FastAPI, Request, Response

from services.restclient.recorded_sleeps import Sleeps
from services.restsim.webhook_delivery import SignedWebhookDispatcher, WebhookSettings


class SimulatorState(Protocol):
    @property
    def dispatcher(self) -> SignedWebhookDispatcher: ...


StateT = TypeVar("StateT", bound=SimulatorState)
HandlesT = TypeVar("HandlesT", bound="SimHandles[Any]")


@dataclass
class WebhookReceiver:
    """A webhook endpoint at ``path`` that records raw deliveries and fails on demand."""

    fail_first: int = 0
    status_on_failure: int = 500
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    path: str = field(default="/hooks", kw_only=True)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post(self.path)
        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), dict(request.headers)))
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(status_code=self.status_on_failure)
            return Response(status_code=204)

        return app


@dataclass
class SimHandles(Generic[StateT]):
    """One running simulator and the handles a test needs to drive and inspect it."""

    state: StateT
    app: FastAPI
    admin: httpx.AsyncClient
    receiver: WebhookReceiver
    sleeps: Sleeps

    async def faults(self, tenant: str, **config: Any) -> None:
        r = await self.admin.put(f"/_sim/tenants/{tenant}/faults", json=config)
        r.raise_for_status()

    async def deliveries(self, tenant: str) -> list[dict[str, Any]]:
        await self.state.dispatcher.drain(5)
        r = await self.admin.get(f"/_sim/tenants/{tenant}/deliveries")
        rows: list[dict[str, Any]] = r.json()["data"]
        return rows


@asynccontextmanager
async def run_simulator(
    handles: Callable[..., HandlesT],
    make_state: Callable[..., StateT],
    create_app: Callable[[StateT], FastAPI],
    receiver: WebhookReceiver,
    base_url: str,
    retry_delays: tuple[float, ...],
) -> AsyncIterator[HandlesT]:
    """A fresh simulator whose webhooks go to ``receiver`` in-process; torn down on exit.

    ``make_state(webhook_settings=…, delivery_client=…)`` builds the product's ``SimState``.
    """
    delivery_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
    state = make_state(
        webhook_settings=WebhookSettings(retry_delays=retry_delays, timeout_seconds=2.0),
        delivery_client=delivery_client,
    )
    app = create_app(state)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as admin:
            yield handles(state=state, app=app, admin=admin, receiver=receiver, sleeps=Sleeps())
    finally:
        state.dispatcher.cancel_all()
        await delivery_client.aclose()
