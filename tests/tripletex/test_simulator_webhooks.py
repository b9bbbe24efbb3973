"""Webhooks delivered over real HTTP to a receiver on 127.0.0.1, with HMAC and retries."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from services.tripletex.simulator.state import SimulatorState
from services.tripletex.simulator.testing import SimulatorHarness
from services.tripletex.simulator.webhooks import WebhookConfig

SECRET = "delt-hemmelighet"


@dataclass
class Receiver:
    """Records each POST; answers 503 to the first `fail_first` calls."""

    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.calls.append((dict(request.headers), await request.body()))
            return Response(status_code=503 if len(self.calls) <= self.fail_first else 200)

        return app


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(5):
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        await task
        sock.close()


def _fast_state() -> SimulatorState:
    return SimulatorState(webhook_config=WebhookConfig(retry_delays=(0.01, 0.02), disable_after_failures=2))


async def _subscribe(sim: SimulatorHarness, auth: Any, event: str, url: str, **extra: Any) -> dict[str, Any]:
    response = await sim.client.post(
        "/v2/event/subscription", auth=auth, json={"event": event, "targetUrl": url, **extra}
    )
    assert response.status_code == 201, response.text
    value: dict[str, Any] = response.json()["value"]
    return value


async def test_project_events_are_posted_with_a_verifiable_signature() -> None:
    receiver = Receiver()
    async with serving(receiver.app()) as url, SimulatorHarness(_fast_state()) as sim:
        tenant = await sim.tenant()
        sub = await _subscribe(
            sim, tenant.auth, "project.create", url, hmacSharedSecret=SECRET, fields="id,name,version"
        )
        assert sub["hmacSharedSecret"] is None  # write-only
        await _subscribe(sim, tenant.auth, "project.delete", url)
        created = await sim.client.post(
            "/v2/project",
            auth=tenant.auth,
            json={
                "name": "Hytte",
                "projectManager": {"id": tenant.company.api_employee_id},
                "startDate": "2026-05-01",
            },
        )
        project_id = created.json()["value"]["id"]
        await sim.client.delete(f"/v2/project/{project_id}", auth=tenant.auth)
        await sim.state.webhooks.drain()

        assert len(receiver.calls) == 2
        headers, body = receiver.calls[0]
        payload = json.loads(body)
        assert payload == {
            "subscriptionId": sub["id"],
            "event": "project.create",
            "id": project_id,
            "value": {"id": project_id, "name": "Hytte", "version": 0},
        }
        expected = base64.b64encode(
            hmac.new(
                SECRET.encode(), headers["idempotency-key"].encode() + b"&" + body, hashlib.sha512
            ).digest()
        ).decode()
        assert headers["x-request-signature"] == expected

        delete_headers, delete_body = receiver.calls[1]
        assert json.loads(delete_body)["value"] is None
        assert "x-request-signature" not in delete_headers


async def test_failed_delivery_is_retried_with_the_same_idempotency_key() -> None:
    receiver = Receiver(fail_first=2)
    async with serving(receiver.app()) as url, SimulatorHarness(_fast_state()) as sim:
        tenant = await sim.tenant()
        await _subscribe(
            sim, tenant.auth, "customer.create", url, authHeaderName="X-Auth", authHeaderValue="s3cret"
        )
        await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "Retry AS"})
        await sim.state.webhooks.drain()
        assert len(receiver.calls) == 3
        keys = {headers["idempotency-key"] for headers, _ in receiver.calls}
        assert len(keys) == 1
        assert receiver.calls[0][0]["x-auth"] == "s3cret"
        log = (await sim.client.get("/_sim/webhooks", params={"companyId": tenant.company.id})).json()
        assert log[0]["status"] == "DELIVERED"
        assert [a["status"] for a in log[0]["attempts"]] == [503, 503, 200]


async def test_exhausted_retries_fail_and_disable_the_subscription() -> None:
    receiver = Receiver(fail_first=100)
    async with serving(receiver.app()) as url, SimulatorHarness(_fast_state()) as sim:
        tenant = await sim.tenant()
        sub = await _subscribe(sim, tenant.auth, "employee.update", url)
        employee_id = tenant.company.api_employee_id
        for name in ("En", "To"):
            await sim.client.put(f"/v2/employee/{employee_id}", auth=tenant.auth, json={"firstName": name})
            await sim.state.webhooks.drain()
        failed = (await sim.client.get("/_sim/webhooks", params={"status": "FAILED"})).json()
        assert len(failed) == 2 and all(len(d["attempts"]) == 3 for d in failed)
        status = await sim.client.get(f"/v2/event/subscription/{sub['id']}", auth=tenant.auth)
        assert status.json()["value"]["status"] == "DISABLED_TOO_MANY_ERRORS"


async def test_a_subscription_switched_on_again_counts_its_failures_afresh() -> None:
    receiver = Receiver(fail_first=100)
    async with serving(receiver.app()) as url, SimulatorHarness(_fast_state()) as sim:
        tenant = await sim.tenant()
        sub = await _subscribe(sim, tenant.auth, "employee.update", url)
        employee_id = tenant.company.api_employee_id
        path = f"/v2/event/subscription/{sub['id']}"

        async def fail_once(name: str) -> str:
            await sim.client.put(f"/v2/employee/{employee_id}", auth=tenant.auth, json={"firstName": name})
            await sim.state.webhooks.drain()
            status: str = (await sim.client.get(path, auth=tenant.auth)).json()["value"]["status"]
            return status

        assert [await fail_once("En"), await fail_once("To")] == ["ACTIVE", "DISABLED_TOO_MANY_ERRORS"]
        version = (await sim.client.get(path, auth=tenant.auth)).json()["value"]["version"]
        switched_on = await sim.client.put(
            path, auth=tenant.auth, json={"id": sub["id"], "version": version, "status": "ACTIVE"}
        )
        assert switched_on.status_code == 200, switched_on.text
        # One failed delivery after it is one failure, not the third in a row.
        assert await fail_once("Tre") == "ACTIVE"
        assert await fail_once("Fire") == "DISABLED_TOO_MANY_ERRORS"


async def test_no_events_for_timesheet_or_activity_and_event_listing() -> None:
    async with SimulatorHarness(_fast_state()) as sim:
        tenant = await sim.tenant()
        events = (await sim.client.get("/v2/event")).json()["value"]
        assert "voucher.create" in events and "customer.delete" in events
        assert not any(name.startswith(("timesheet", "activity")) for name in events)
        refused = await sim.client.post(
            "/v2/event/subscription",
            auth=tenant.auth,
            json={"event": "timesheetentry.create", "targetUrl": "https://example.invalid/hook"},
        )
        assert refused.status_code == 422
        not_https = await sim.client.post(
            "/v2/event/subscription",
            auth=tenant.auth,
            json={"event": "project.create", "targetUrl": "http://example.com/hook"},
        )
        assert not_https.status_code == 422
        assert not_https.json()["validationMessages"][0]["field"] == "targetUrl"
