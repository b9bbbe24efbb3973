"""Real data for the integration panel's tests, produced by the engine (``Sandbox``), not inserted.

One tenant gets a synced project (a link and applied outcomes), a project without a start date
(S-P1 → PROJECT_MISSING_START_DATE), a customer with a non-numeric number (S-C1 →
CUSTOMER_NON_NUMERIC_ID) and a synced customer, so every view has something to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from contracts.error_codes import CUSTOMER_NON_NUMERIC_ID, PROJECT_MISSING_START_DATE
from services.panel import access
from services.sandbox import Sandbox, SandboxTenant

WAIT = 20.0
START = "2026-03-02"


@dataclass(frozen=True)
class Scenario:
    tenant: SandboxTenant
    synced_project_id: str
    tripletex_project_id: int
    dateless_project_id: str
    lettered_customer_id: str
    token: str


async def _open_error(sandbox: Sandbox, tenant_id: str, entity_id: str, code: str) -> Any:
    rows = await sandbox.errors(tenant_id, open_only=True)
    return next((r for r in rows if r["entity_id"] == entity_id and r["error_code"] == code), None)


async def _linked(sandbox: Sandbox, tenant_id: str, entity_id: str) -> Any:
    return next((r for r in await sandbox.links(tenant_id) if r["entity_id"] == entity_id), None)


async def produce(sandbox: Sandbox, t: SandboxTenant) -> Scenario:
    synced = await t.svenn.projects.create(
        {"display_id": "2026.10", "name": "Kontorbygg Nord", "start_date": START}
    )
    dateless = await t.svenn.projects.create({"display_id": "2026.11", "name": "Uten startdato"})
    lettered = await t.svenn.customers.create({"customer_number": "K-12", "name": "Bokstav AS"})
    await t.svenn.customers.create({"customer_number": "30001", "name": "Tallkunde AS"})
    found = await sandbox.wait_until(lambda: t.tripletex_project("2026.10"), WAIT)
    await sandbox.wait_until(lambda: _linked(sandbox, t.tenant_id, synced.id), WAIT)
    await sandbox.wait_until(
        lambda: _open_error(sandbox, t.tenant_id, dateless.id, PROJECT_MISSING_START_DATE), WAIT
    )
    await sandbox.wait_until(
        lambda: _open_error(sandbox, t.tenant_id, lettered.id, CUSTOMER_NON_NUMERIC_ID), WAIT
    )
    return Scenario(
        t, synced.id, int(found["id"]), dateless.id, lettered.id, await grant(sandbox, t.tenant_id)
    )


async def grant(sandbox: Sandbox, tenant_id: str) -> str:
    """A panel token for the tenant, made as ``tsync panel grant`` makes it."""
    connection = await asyncpg.connect(sandbox.settings.database_url)
    try:
        return (await access.grant(connection, tenant_id, "tests")).token
    finally:
        await connection.close()


async def decisions_about(sandbox: Sandbox, tenant_id: str, entity_id: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(sandbox.settings.database_url)
    try:
        return await connection.fetch(
            "SELECT * FROM decision_log WHERE tenant_id = $1 AND entity_id = $2 ORDER BY seq",
            tenant_id,
            entity_id,
        )
    finally:
        await connection.close()
