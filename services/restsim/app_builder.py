"""Assembling a Svenn/Drifti-style simulator app: envelope, gate, routers, health, shutdown.

``create_app(state)`` in each product takes its state from outside so a test can hold the same
object the app mutates; this puts the pieces together the same way for every product.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from services.restsim.api_gate import install_api_gate
from services.restsim.error_envelope import install_error_handlers


def build_simulator_app(
    sim: Any, *, title: str, description: str, realm: str, routers: list[APIRouter]
) -> FastAPI:
    """``sim`` is the product's ``SimState`` (``tenant_for_key``, ``dispatcher``)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await sim.dispatcher.aclose()

    app = FastAPI(title=title, version="1.0", description=description, lifespan=lifespan)
    app.state.sim = sim
    install_error_handlers(app)
    install_api_gate(app, sim.tenant_for_key, realm=realm)
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
