"""What each listener serves: the panel where the projections' database is, and nowhere else; the
ingest API, metrics and readiness on the internal listener only, never on the public one."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.runtime import ALL_ROLES, Role, Runtime


async def _status(app: FastAPI, method: str, path: str) -> int:
    # These answers read no database, so the app gives them without its lifespan having run.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as client:
        return (await client.request(method, path)).status_code


def _runtime(roles: list[Role] | tuple[Role, ...]) -> Runtime:
    return Runtime(Settings(), roles, tenants=StaticTenantDirectory())


async def test_the_projections_role_serves_the_panel() -> None:
    assert await _status(_runtime([Role.PROJECTIONS]).http_app(), "GET", "/panel/login") == 200


async def test_roles_without_the_projections_database_do_not() -> None:
    assert await _status(_runtime([Role.INGEST, Role.SVENN_WRITER]).http_app(), "GET", "/panel/login") == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/changes"), ("GET", "/metrics"), ("GET", "/tenants/acme/readiness")],
)
async def test_the_public_listener_does_not_route_internal_paths(method: str, path: str) -> None:
    assert await _status(_runtime(ALL_ROLES).http_app(), method, path) == 404


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/changes"), ("GET", "/tenants/acme/readiness")])
async def test_the_internal_listener_refuses_them_without_a_token(method: str, path: str) -> None:
    assert await _status(_runtime(ALL_ROLES).internal_app(), method, path) == 401


async def test_every_role_serves_metrics_on_the_internal_listener() -> None:
    for role in ALL_ROLES:
        assert await _status(_runtime([role]).internal_app(), "GET", "/metrics") == 200
