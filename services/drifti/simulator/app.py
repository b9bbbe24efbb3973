"""Builds the Drifti simulator as a FastAPI app.

``create_app(state)`` takes the state from outside so a test can hold the same object the
app mutates: create tenants without HTTP, swap in a webhook HTTP client that talks to an
in-process receiver, or await ``state.dispatcher.drain()`` before asserting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.drifti.simulator.admin import build_admin_router
from services.drifti.simulator.api import build_api_router
from services.drifti.simulator.middleware import install_api_gate
from services.drifti.simulator.state import SimState
from services.svenn.simulator.errors import install_error_handlers


def create_app(state: SimState | None = None) -> FastAPI:
    sim = state if state is not None else SimState()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await sim.dispatcher.aclose()

    app = FastAPI(
        title="Drifti API (simulator)",
        version="1.0",
        description="Simulated Drifti craftsman API. See services/drifti/API.md.",
        lifespan=lifespan,
    )
    app.state.sim = sim
    install_error_handlers(app)
    install_api_gate(app, sim)
    app.include_router(build_api_router(sim))
    app.include_router(build_admin_router(sim))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
