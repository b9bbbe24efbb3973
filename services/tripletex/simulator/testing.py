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

from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

import httpx

from services.core.asgi_serving import serve_asgi as serve_asgi
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
