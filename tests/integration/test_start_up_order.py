"""After a (re)start the webhooks are served before the consumer groups have joined (faults #16).

A group join takes seconds while the group rebalances; with ``tsync run all`` the webhook endpoint
used to be down all that time, and senders gave deliveries up. Here the join is held open on
purpose: a delivery is taken (202) while the consumers are not running, ``/readyz`` says so, and
once they run the change is decided like any other.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from services.core.asgi_serving import serve_asgi
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, TripletexAccess
from services.runtime import Role, Runtime
from services.tripletex.ingest import expected_signature

pytestmark = pytest.mark.integration

SECRET = "tripletex-webhook-secret-start-up-order"


async def test_webhooks_are_taken_while_the_consumer_groups_are_still_joining(
    settings: Settings, tenant_id: str
) -> None:
    tenants = StaticTenantDirectory(
        [
            TenantConfig(
                tenant_id=tenant_id,
                tripletex=TripletexAccess(
                    base_url="https://tripletex.example/v2",
                    consumer_token=SecretStr("c"),
                    employee_token=SecretStr("e"),
                    webhook_secret=SecretStr(SECRET),
                ),
            )
        ]
    )
    runtime = Runtime(
        settings.model_copy(update={"catch_up": False}),
        [Role.INGEST, Role.DECISION, Role.PROJECTIONS],
        tenants=tenants,
    )
    joining = asyncio.Event()
    join = runtime.broker.start

    async def slow_join() -> None:
        await joining.wait()  # a rebalance that takes as long as the test says
        await join()

    runtime.broker.start = slow_join  # type: ignore[method-assign]
    body = json.dumps({"subscriptionId": 1, "event": "customer.delete", "id": 4711, "value": None}).encode()
    headers = {
        "idempotency-key": f"{tenant_id}-1",
        "x-request-signature": expected_signature(SECRET, f"{tenant_id}-1", body),
        "content-type": "application/json",
    }
    async with serve_asgi(runtime.http_app()) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        taken = await http.post(f"/webhooks/tripletex/{tenant_id}", content=body, headers=headers)
        assert taken.status_code == 202, taken.text
        assert runtime.started is False
        assert (await http.get("/readyz")).status_code == 503  # not ready: the consumers are not running
        assert (await http.get("/healthz")).status_code == 200  # but alive

        joining.set()
        for _ in range(600):  # the join now goes ahead: ready within seconds
            if (await http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert runtime.started and (await http.get("/readyz")).status_code == 200
        connection = await asyncpg.connect(settings.database_url)
        try:
            async with asyncio.timeout(30):
                while True:
                    rows = await connection.fetch(
                        "SELECT rule_id FROM decision_log WHERE tenant_id = $1 AND entity_id = '4711'",
                        tenant_id,
                    )
                    if rows:
                        break
                    await asyncio.sleep(0.1)
        finally:
            await connection.close()
    assert [r["rule_id"] for r in rows] == ["S-C5"]
