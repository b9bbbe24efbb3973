"""Test and operator controls under ``/_sim`` — not part of Drifti's API.

Unauthenticated on purpose (the simulator only ever listens on 127.0.0.1 or in-process):
tests must be able to create tenants, break them and inspect them without a key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.drifti.simulator.seed import create_demo_tenant, parse_month
from services.drifti.simulator.state import SimState
from services.svenn.simulator.faults import FaultConfig


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

    @router.post("/reset", status_code=204)
    async def reset_all() -> Response:
        state.reset()
        return Response(status_code=204)

    @router.post("/tenants/{tenant}/reset", status_code=204)
    async def reset_tenant(tenant: str) -> Response:
        state.get_tenant(tenant).clear_data()
        state.dispatcher.forget(tenant)
        return Response(status_code=204)

    @router.get("/tenants/{tenant}/dump")
    async def dump(tenant: str) -> dict[str, Any]:
        return state.get_tenant(tenant).dump()

    @router.get("/tenants/{tenant}/faults")
    async def get_faults(tenant: str) -> dict[str, Any]:
        return state.get_tenant(tenant).faults.snapshot()

    @router.put("/tenants/{tenant}/faults")
    async def put_faults(tenant: str, body: FaultConfig) -> dict[str, Any]:
        target = state.get_tenant(tenant)
        target.faults.configure(body)
        return target.faults.snapshot()

    @router.delete("/tenants/{tenant}/faults", status_code=204)
    async def clear_faults(tenant: str) -> Response:
        state.get_tenant(tenant).faults.configure(FaultConfig())
        return Response(status_code=204)

    @router.get("/tenants/{tenant}/deliveries")
    async def deliveries(tenant: str, event_id: str | None = None) -> dict[str, Any]:
        state.get_tenant(tenant)
        rows = [a.as_dict() for a in state.dispatcher.attempts.get(tenant, [])]
        if event_id is not None:
            rows = [r for r in rows if r["event_id"] == event_id]
        return {"data": rows, "pending": state.dispatcher.pending}

    @router.post("/webhooks/drain")
    async def drain(wait_seconds: float = Query(default=10.0, gt=0, le=120)) -> dict[str, Any]:
        done = await state.dispatcher.drain(wait_seconds)
        return {"drained": done, "pending": state.dispatcher.pending}

    return router
