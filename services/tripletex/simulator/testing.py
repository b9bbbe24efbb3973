"""Helpers for tests that talk to the simulator in-process (no sockets).

    async with SimulatorHarness() as sim:
        tenant = await sim.tenant("Rørlegger AS")
        response = await sim.client.get("/v2/project", auth=tenant.auth)

Usable by the client's tests too: `sim.client` is an `httpx.AsyncClient` on an ASGI
transport, `sim.state` the simulator's memory, `tenant.token` a valid session token.

`serve_asgi` serves any ASGI app (the engine's ingest, or the simulator itself) with uvicorn
on a free 127.0.0.1 port, for tests where a real HTTP hop matters: the simulator delivers
webhooks with its own `httpx` client, exactly as Tripletex would, to that port.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

import httpx
import uvicorn

from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import Company, SimulatorState

BASE_URL = "http://tripletex.test"


@dataclass
class Tenant:
    company: Company
    token: str

    @property
    def auth(self) -> httpx.BasicAuth:
        """Basic auth as Tripletex wants it: user `0`, password = session token."""
        return httpx.BasicAuth("0", self.token)


@dataclass
class SimulatorHarness:
    state: SimulatorState = field(default_factory=SimulatorState)

    def __post_init__(self) -> None:
        self.app = create_app(self.state)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL)

    async def __aenter__(self) -> SimulatorHarness:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.state.webhooks.drain()
        await self.client.aclose()

    async def session(self, company: Company, days: int = 7) -> str:
        expiration = self.state.today_in_oslo() + timedelta(days=days)
        response = await self.client.post(
            "/v2/token/session/:create",
            json={
                "consumerToken": company.consumer_token,
                "employeeToken": company.employee_token,
                "expirationDate": expiration.isoformat(),
            },
        )
        response.raise_for_status()
        token: str = response.json()["value"]["token"]
        return token

    async def tenant(self, name: str = "Simulert AS") -> Tenant:
        company = self.state.create_company(name)
        return Tenant(company, await self.session(company))


@asynccontextmanager
async def serve_asgi(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on") -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port; yields its base URL (``http://127.0.0.1:N``).

    The socket is bound before uvicorn starts, so nothing else can take the port between
    choosing and serving it; the server runs on the test's own event loop and is stopped
    (in-flight requests finished) on exit.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False))
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
