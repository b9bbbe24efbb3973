"""An in-process harness around the simulator, for this package's tests and the engine's.

``Sim`` bundles a fresh simulator, an admin HTTP client, a webhook ``Receiver`` that the
simulator delivers to through ``httpx.ASGITransport`` (a real POST with a real signature,
no socket), and factories for tenants and ``SvennClient``s wired to the same app. The
Svenn ingest and writer tests can reuse it instead of re-building the wiring.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

from services.svenn.client import RetryPolicy, SvennClient
from services.svenn.simulator.app import create_app
from services.svenn.simulator.state import SimState
from services.svenn.simulator.webhooks import WebhookSettings

BASE_URL = "http://svenn.test"
RECEIVER_URL = "http://receiver.test/hooks/svenn"


@dataclass
class Receiver:
    """A webhook endpoint that records raw deliveries and fails on demand."""

    fail_first: int = 0
    status_on_failure: int = 500
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/svenn")
        async def hook(request: Request) -> Response:
            self.received.append((await request.body(), dict(request.headers)))
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(status_code=self.status_on_failure)
            return Response(status_code=204)

        return app


@dataclass
class Sleeps:
    """Stands in for ``asyncio.sleep`` in the client: records each wait instead of waiting,
    so retry tests assert the backoff they asked for and still finish in milliseconds."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@dataclass
class Sim:
    """One running simulator and the handles a test needs to drive and inspect it."""

    state: SimState
    app: FastAPI
    admin: httpx.AsyncClient
    receiver: Receiver
    sleeps: Sleeps

    async def tenant(self, name: str | None = None) -> tuple[str, str]:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        r = await self.admin.post("/_sim/tenants", json={"name": name})
        r.raise_for_status()
        return r.json()["tenant"], r.json()["api_key"]

    def client(self, api_key: str, **kwargs: Any) -> SvennClient:
        kwargs.setdefault("retry", RetryPolicy(backoff_base=0.01, backoff_max=0.05))
        kwargs.setdefault("sleep", self.sleeps)
        return SvennClient(BASE_URL, api_key, transport=httpx.ASGITransport(app=self.app), **kwargs)

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


@asynccontextmanager
async def serve_asgi(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on") -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port; yields its base URL (``http://127.0.0.1:N``).

    For tests that need real HTTP between two parts (Svenn's webhook deliveries to the
    engine's ingest, the writer's calls to the simulator). The socket is bound *before*
    uvicorn starts, so no other process can take the port between choosing and serving it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn exposes a flag, not an event
                if serving.done():
                    serving.result()  # surfaces the start-up error
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        sock.close()
