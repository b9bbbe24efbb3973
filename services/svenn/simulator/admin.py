"""Test and operator controls under ``/_sim`` — not part of Svenn's API.

Unauthenticated on purpose (the simulator only ever listens on 127.0.0.1 or in-process):
tests must be able to create tenants, break them and inspect them without a key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from services.restsim.admin_routes import add_tenant_controls
from services.svenn.simulator.seed import seed_tenant
from services.svenn.simulator.state import SimState


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    api_key: str | None = None
    seed: bool = False


def build_admin_router(state: SimState) -> APIRouter:
    router = APIRouter(prefix="/_sim", tags=["simulator"])

    @router.post("/tenants", status_code=201)
    async def create_tenant(body: TenantCreate) -> dict[str, Any]:
        tenant = state.create_tenant(body.name, body.api_key)
        if body.seed:
            seed_tenant(state, tenant)
        return {"tenant": tenant.name, "api_key": tenant.api_key}

    @router.get("/tenants")
    async def list_tenants() -> dict[str, Any]:
        return {"data": sorted(state.tenants)}

    add_tenant_controls(router, state)
    return router
