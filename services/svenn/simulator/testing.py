"""An in-process harness around the simulator, for this package's tests and the engine's.

``Sim`` bundles a fresh simulator, an admin HTTP client, a webhook ``Receiver`` that the
simulator delivers to through ``httpx.ASGITransport`` (a real POST with a real signature,
no socket), and factories for tenants and ``SvennClient``s wired to the same app. The
Svenn ingest and writer tests can reuse it instead of re-building the wiring. ``Sleeps``
(``services.restclient.recorded_sleeps``) and ``serve_asgi`` (``services.core.asgi_serving``)
are re-exported for the importers that find them here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.core.asgi_serving import serve_asgi
from services.restclient.recorded_sleeps import Sleeps
from services.restsim.harness import SimHandles, WebhookReceiver, run_simulator
from services.svenn.client import RetryPolicy, SvennClient
from services.svenn.simulator.app import create_app
from services.svenn.simulator.state import SimState

__all__ = ["BASE_URL", "RECEIVER_URL", "Receiver", "Sim", "Sleeps", "running_sim", "serve_asgi"]

BASE_URL = "http://svenn.test"
RECEIVER_URL = "http://receiver.test/hooks/svenn"


@dataclass
class Receiver(WebhookReceiver):
    """A webhook endpoint at ``/hooks/svenn`` that records raw deliveries and fails on demand."""

    path: str = field(default="/hooks/svenn", kw_only=True)


@dataclass
class Sim(SimHandles[SimState]):
    """One running simulator and the handles a test needs to drive and inspect it."""

    async def tenant(self, name: str | None = None) -> tuple[str, str]:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        r = await self.admin.post("/_sim/tenants", json={"name": name})
        r.raise_for_status()
        return r.json()["tenant"], r.json()["api_key"]

    def client(self, api_key: str, **kwargs: Any) -> SvennClient:
        kwargs.setdefault("retry", RetryPolicy(backoff_base=0.01, backoff_max=0.05))
        kwargs.setdefault("sleep", self.sleeps)
        return SvennClient(BASE_URL, api_key, transport=httpx.ASGITransport(app=self.app), **kwargs)


@asynccontextmanager
async def running_sim(retry_delays: tuple[float, ...] = (0.01, 0.02, 0.04)) -> AsyncIterator[Sim]:
    """A fresh simulator whose webhooks go to an in-process ``Receiver``; torn down on exit."""
    async with run_simulator(Sim, SimState, create_app, Receiver(), BASE_URL, retry_delays) as sim:
        yield sim
