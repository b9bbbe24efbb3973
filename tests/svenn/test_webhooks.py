"""Webhook delivery from the simulator and verification by the client, end to end."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
import uvicorn

from services.svenn.client import (
    SvennClient,
    SvennSignatureError,
    compute_signature,
    parse_webhook,
    verify_signature,
)
from services.svenn.simulator import SimState, WebhookSettings, create_app
from services.svenn.simulator.testing import BASE_URL, RECEIVER_URL, Receiver, Sim
from services.svenn.simulator.webhooks import sign

SECRET = "whsec_test_0123456789abcdef"


async def test_change_is_delivered_signed_and_verifies(
    sim: Sim, client: SvennClient, tenant: tuple[str, str]
) -> None:
    hook = await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    assert hook.secret is None  # we chose it, so it is not echoed
    project = await client.projects.create({"display_id": "2024.17", "name": "Nytt tak"})
    await sim.state.dispatcher.drain(5)

    [(body, headers)] = sim.receiver.received
    event = parse_webhook(SECRET, body, headers)
    assert event.event_type == "project.created" and event.change == "created"
    assert event.tenant == tenant[0]
    assert (event.resource_type, event.resource_id, event.resource_version) == ("project", project.id, 1)
    assert event.record() == project
    assert headers["x-svenn-event-id"] == event.event_id
    assert headers["x-svenn-signature"].startswith("sha256=")
    assert abs(int(headers["x-svenn-timestamp"]) - time.time()) < 5


async def test_tampered_forged_or_stale_deliveries_are_rejected(sim: Sim, client: SvennClient) -> None:
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    await client.customers.create({"name": "Ekte AS", "customer_number": "1"})
    await sim.state.dispatcher.drain(5)
    [(body, headers)] = sim.receiver.received
    parse_webhook(SECRET, body, headers)  # the genuine one passes

    tampered = body.replace(b"Ekte AS", b"Falsk AS")
    with pytest.raises(SvennSignatureError, match="does not match"):
        parse_webhook(SECRET, tampered, headers)
    with pytest.raises(SvennSignatureError, match="does not match"):
        parse_webhook("whsec_someone_elses_secret", body, headers)
    flipped = {**headers, "x-svenn-signature": headers["x-svenn-signature"][:-1] + "0"}
    if flipped["x-svenn-signature"] == headers["x-svenn-signature"]:
        flipped["x-svenn-signature"] = headers["x-svenn-signature"][:-1] + "1"
    with pytest.raises(SvennSignatureError):
        parse_webhook(SECRET, body, flipped)
    # Replaying the captured body with a fresh timestamp fails: the timestamp is signed too.
    replay = {**headers, "x-svenn-timestamp": str(int(time.time()) + 1)}
    with pytest.raises(SvennSignatureError):
        parse_webhook(SECRET, body, replay)
    # Replaying it unchanged much later fails the tolerance window.
    with pytest.raises(SvennSignatureError, match="tolerance"):
        parse_webhook(SECRET, body, headers, now=time.time() + 3600)
    with pytest.raises(SvennSignatureError, match="missing"):
        parse_webhook(SECRET, body, {})


def test_simulator_signing_and_client_verification_agree() -> None:
    body = b'{"event_id":"evt_1"}'
    now = int(time.time())
    assert sign(SECRET, now, body) == compute_signature(SECRET, now, body)
    verify_signature(SECRET, body, f"sha256=deadbeef, {sign(SECRET, now, body)}", str(now))  # rotation
    with pytest.raises(SvennSignatureError):
        verify_signature(SECRET, body, sign(SECRET, now, body), "not-a-number")


async def test_failed_delivery_is_retried_with_the_same_event_id(
    sim: Sim, client: SvennClient, tenant: tuple[str, str]
) -> None:
    sim.receiver.fail_first = 2
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    await client.employees.create({"first_name": "Ola"})
    attempts = await sim.deliveries(tenant[0])

    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert [a["status_code"] for a in attempts] == [500, 500, 204]
    assert attempts[-1]["succeeded"] and attempts[-1]["final"]
    events = [parse_webhook(SECRET, body, headers) for body, headers in sim.receiver.received]
    assert len({e.event_id for e in events}) == 1  # receivers deduplicate on this
    assert [h["x-svenn-delivery-attempt"] for _, h in sim.receiver.received] == ["1", "2", "3"]


async def test_delivery_gives_up_after_bounded_attempts(
    sim: Sim, client: SvennClient, tenant: tuple[str, str]
) -> None:
    sim.receiver.fail_first = 100
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    await client.employees.create({"first_name": "Kari"})
    attempts = await sim.deliveries(tenant[0])
    assert len(attempts) == 4  # first try + len(retry_delays)
    assert attempts[-1]["final"] and not attempts[-1]["succeeded"]


async def test_event_types_follow_the_change_and_subscriptions_filter(sim: Sim, client: SvennClient) -> None:
    await client.webhooks.create(RECEIVER_URL, secret=SECRET, event_types=["project.*", "customer.deleted"])
    project = await client.projects.create({"name": "Jobb", "start_date": "2024-01-01"})
    project = await client.projects.update(project, {"name": "Jobb 2"})
    project = await client.projects.update(project, {"name": "Jobb 2"})  # no-op: no event
    project = await client.projects.update(project, {"status": "completed"})
    await client.projects.delete(project.id)
    customer = await client.customers.create({"name": "Kunde"})
    customer = await client.customers.update(customer, {"status": "inactive"})
    await client.customers.delete(customer.id)
    await client.employees.create({"first_name": "Ikke abonnert"})
    await sim.state.dispatcher.drain(5)

    events = sorted(
        (parse_webhook(SECRET, b, h) for b, h in sim.receiver.received),
        key=lambda e: (e.resource_type, e.resource_version),
    )
    assert [(e.event_type, e.resource_version) for e in events] == [
        ("customer.deleted", 3),
        ("project.created", 1),
        ("project.updated", 2),
        ("project.status_changed", 3),
        ("project.deleted", 4),
    ]
    assert events[-1].data["status"] == "deleted"


async def test_generated_secret_is_shown_once_and_webhooks_can_be_removed(
    sim: Sim, client: SvennClient
) -> None:
    hook = await client.webhooks.create(RECEIVER_URL)
    assert hook.secret and hook.secret.startswith("whsec_")
    [listed] = await client.webhooks.list()
    assert listed.id == hook.id and listed.secret is None
    await client.employees.create({"first_name": "Med"})
    await sim.state.dispatcher.drain(5)
    parse_webhook(hook.secret, *sim.receiver.received[0])
    await client.webhooks.delete(hook.id)
    await client.employees.create({"first_name": "Uten"})
    await sim.state.dispatcher.drain(5)
    assert len(sim.receiver.received) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_delivery_over_a_real_socket() -> None:
    """The default delivery client (no injection) POSTs to a uvicorn receiver on 127.0.0.1."""
    receiver = Receiver(fail_first=1)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    state = SimState(webhook_settings=WebhookSettings(retry_delays=(0.05,), timeout_seconds=2))
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        app = create_app(state)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as admin:
            key = (await admin.post("/_sim/tenants", json={"name": "socket"})).json()["api_key"]
        async with SvennClient(BASE_URL, key, transport=httpx.ASGITransport(app=app)) as client:
            await client.webhooks.create(f"http://127.0.0.1:{port}/hooks/svenn", secret=SECRET)
            created = await client.customers.create({"name": "Over nett"})
            assert await state.dispatcher.drain(5)
        assert len(receiver.received) == 2  # one failure, one retry
        event = parse_webhook(SECRET, *receiver.received[-1])
        assert event.resource_id == created.id
        assert json.loads(receiver.received[0][0]) == json.loads(receiver.received[1][0])
    finally:
        await state.dispatcher.aclose()
        server.should_exit = True
        await serving
