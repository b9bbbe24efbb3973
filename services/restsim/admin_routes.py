"""The ``/_sim`` controls every Svenn/Drifti-style simulator has, whatever its data.

Reset everything or one tenant, dump a tenant, read/set/clear its faults, inspect webhook
deliveries and wait for them to drain. Unauthenticated on purpose (simulators only listen on
127.0.0.1 or in-process). A product's admin router adds tenant creation, which differs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from services.restsim.faults import FaultConfig


def add_tenant_controls(router: APIRouter, state: Any) -> None:
    """Add the shared routes to ``router`` (prefix ``/_sim``) for a simulator's ``SimState``."""

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
        dumped: dict[str, Any] = state.get_tenant(tenant).dump()
        return dumped

    @router.get("/tenants/{tenant}/faults")
    async def get_faults(tenant: str) -> dict[str, Any]:
        snapshot: dict[str, Any] = state.get_tenant(tenant).faults.snapshot()
        return snapshot

    @router.put("/tenants/{tenant}/faults")
    async def put_faults(tenant: str, body: FaultConfig) -> dict[str, Any]:
        target = state.get_tenant(tenant)
        target.faults.configure(body)
        snapshot: dict[str, Any] = target.faults.snapshot()
        return snapshot

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
