"""The panel is served where the projections' database is, and nowhere else."""

from __future__ import annotations

import httpx

from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.runtime import Role, Runtime


async def _login_form_status(roles: list[Role]) -> int:
    # The login form reads no database, so the app answers it without its lifespan having run.
    app = Runtime(Settings(), roles, tenants=StaticTenantDirectory()).http_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as client:
        return (await client.get("/panel/login")).status_code


async def test_the_projections_role_serves_the_panel() -> None:
    assert await _login_form_status([Role.PROJECTIONS]) == 200


async def test_roles_without_the_projections_database_do_not() -> None:
    assert await _login_form_status([Role.INGEST, Role.SVENN_WRITER]) == 404
