"""Test and operator controls under ``/_sim`` — not part of Drifti's API.

Unauthenticated on purpose (the simulator only ever listens on 127.0.0.1 or in-process):
tests must be able to create tenants, break them and inspect them without a key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.drifti.simulator.seed import create_demo_tenant, parse_month
from services.drifti.simulator.state import SimState
from services.restsim.admin_routes import add_tenant_controls


class DemoSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=1, ge=0, description="Same seed (and tenant name) -> same data")
    month: str | None = Field(default=None, description="YYYY-MM; default: last month")


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    api_key: str | None = None
    company_name: str | None = None
    demo: bool | DemoSpec = False


def build_admin_router(state: SimState) -> APIRouter:
    router = APIRouter(prefix="/_sim", tags=["simulator"])

    @router.post("/tenants", status_code=201)
    async def create_tenant(body: TenantCreate) -> dict[str, Any]:
        if body.demo is False:
            tenant = state.create_tenant(body.name, body.api_key, company_name=body.company_name)
        else:
            spec = body.demo if isinstance(body.demo, DemoSpec) else DemoSpec()
            month = parse_month(spec.month) if spec.month else None
            tenant = create_demo_tenant(state, body.name, body.api_key, seed=spec.seed, month=month)
        return {"tenant": tenant.name, "api_key": tenant.api_key}

    @router.get("/tenants")
    async def list_tenants() -> dict[str, Any]:
        return {"data": sorted(state.tenants)}

    add_tenant_controls(router, state)
    return router
