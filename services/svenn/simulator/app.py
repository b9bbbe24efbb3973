"""Builds the Svenn simulator as a FastAPI app.

``create_app(state)`` takes the state from outside so a test can hold the same object the
app mutates: create tenants without HTTP, swap in a webhook HTTP client that talks to an
in-process receiver, or await ``state.dispatcher.drain()`` before asserting.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.restsim.app_builder import build_simulator_app
from services.svenn.simulator.admin import build_admin_router
from services.svenn.simulator.api import build_api_router
from services.svenn.simulator.state import SimState


def create_app(state: SimState | None = None) -> FastAPI:
    sim = state if state is not None else SimState()
    return build_simulator_app(
        sim,
        title="Svenn API (simulator)",
        description="Simulated Svenn field-service API. See services/svenn/API.md.",
        realm="svenn",
        routers=[build_api_router(sim), build_admin_router(sim)],
    )
