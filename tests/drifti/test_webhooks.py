"""Webhook delivery from the simulator and verification by the client, end to end."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal

import pytest

from services.drifti.client import (
    DriftiClient,
    DriftiSignatureError,
    Invoice,
    compute_signature,
    parse_webhook,
)
from services.drifti.simulator.testing import RECEIVER_URL, Sim
from services.drifti.simulator.webhooks import sign

SECRET = "whsec_test_0123456789abcdef"


async def _invoice(client: DriftiClient) -> Invoice:
    customer = await client.customers.create({"name": "Fjordbygg AS"})
    job = await client.jobs.create({"title": "Bad", "customer_id": customer.id})
    return await client.invoices.create(
        {
            "job_id": job.id,
            "invoice_date": date(2026, 10, 1),
            "lines": [
                {
                    "description": "Arbeid",
                    "quantity": 2,
                    "unit_price": Decimal("895"),
                    "ledger_account": "3000",
                }
            ],
        }
    )


async def test_changes_are_delivered_signed_and_verify(
    sim: Sim, client: DriftiClient, tenant: tuple[str, str]
) -> None:
    hook = await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    assert hook.secret is None  # we chose it, so it is not echoed
    invoice = await _invoice(client)
    await client.payments.create(
        {
            "method": "manual",
            "invoice_id": invoice.id,
            "amount": Decimal("100"),
            "payment_date": date(2026, 10, 2),
        }
    )
    await sim.state.dispatcher.drain(5)

    events = [parse_webhook(SECRET, body, headers) for body, headers in sim.receiver.received]
    types = sorted(e.event_type for e in events)
    assert types == [
        "customer.created",
        "invoice.created",
        "invoice.updated",
        "job.created",
        "payment.created",
    ]
    created = next(e for e in events if e.event_type == "invoice.created")
    assert created.tenant == tenant[0] and created.change == "created"
    assert created.record() == invoice and (created.resource_id, created.resource_version) == (invoice.id, 1)
    updated = next(e for e in events if e.event_type == "invoice.updated").record()
    assert isinstance(updated, Invoice) and updated.paid_amount == Decimal("100.00") and updated.version == 2
    _, headers = sim.receiver.received[0]
    assert headers["x-drifti-signature"].startswith("sha256=")
    assert abs(int(headers["x-drifti-timestamp"]) - time.time()) < 5


async def test_hours_users_and_rates_are_not_streamed(sim: Sim, client: DriftiClient) -> None:
    customer = await client.customers.create({"name": "Kunde"})
    job = await client.jobs.create({"title": "Oppdrag", "customer_id": customer.id})
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    user = await client.users.create({"name": "Kari", "email": "kari@ex.no"})
    rate = await client.hourly_rates.create({"name": "Lærling", "price_per_hour": Decimal("545")})
    entry = await client.time_entries.create(
        {
            "user_id": user.id,
            "job_id": job.id,
            "hourly_rate_id": rate.id,
            "date": date(2026, 10, 1),
            "hours": Decimal("4"),
        }
    )
    await client.time_entries.update(entry.id, {"status": "approved"})
    await client.jobs.update(job.id, {"title": "Oppdrag"})  # a no-op write emits nothing either
    await sim.state.dispatcher.drain(5)
    assert sim.receiver.received == []


async def test_subscriptions_filter_by_event_type(sim: Sim, client: DriftiClient) -> None:
    await client.webhooks.create(RECEIVER_URL, secret=SECRET, event_types=["payment.*", "job.updated"])
    invoice = await _invoice(client)
    await client.payments.create(
        {"method": "kid", "kid": invoice.kid, "amount": Decimal("1"), "payment_date": date(2026, 10, 3)}
    )
    await client.jobs.update(invoice.job_id, {"status": "closed"})
    await sim.state.dispatcher.drain(5)
    assert [h["x-drifti-event-type"] for _, h in sim.receiver.received] == ["payment.created", "job.updated"]


async def test_tampered_forged_or_stale_deliveries_are_rejected(sim: Sim, client: DriftiClient) -> None:
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    await client.customers.create({"name": "Ekte AS"})
    await sim.state.dispatcher.drain(5)
    [(body, headers)] = sim.receiver.received
    parse_webhook(SECRET, body, headers)  # the genuine one passes

    with pytest.raises(DriftiSignatureError, match="does not match"):
        parse_webhook(SECRET, body.replace(b"Ekte AS", b"Falsk AS"), headers)
    with pytest.raises(DriftiSignatureError, match="does not match"):
        parse_webhook("whsec_someone_elses_secret", body, headers)
    with pytest.raises(DriftiSignatureError, match="missing"):
        parse_webhook(SECRET, body, {k: v for k, v in headers.items() if k != "x-drifti-signature"})
    # A replay with a fresh timestamp does not verify (the timestamp is inside the MAC) ...
    fresh = {**headers, "x-drifti-timestamp": str(int(time.time()) + 1)}
    with pytest.raises(DriftiSignatureError, match="does not match"):
        parse_webhook(SECRET, body, fresh)
    # ... and a genuine but old delivery is outside the window.
    with pytest.raises(DriftiSignatureError, match="tolerance"):
        parse_webhook(SECRET, body, headers, now=time.time() + 301)
    # Signed with our scheme but not an event: rejected as well.
    ts = int(time.time())
    junk = json.dumps({"hello": "world"}).encode()
    with pytest.raises(DriftiSignatureError, match="not a Drifti event"):
        parse_webhook(
            SECRET, junk, {"X-Drifti-Signature": sign(SECRET, ts, junk), "X-Drifti-Timestamp": str(ts)}
        )
    # Simulator and client agree on the signature, and rotation lists several.
    assert compute_signature(SECRET, ts, junk) == sign(SECRET, ts, junk)
    rotated = {**headers, "x-drifti-signature": "sha256=00," + headers["x-drifti-signature"]}
    parse_webhook(SECRET, body, rotated)


async def test_failed_deliveries_are_retried_resigned_and_logged(
    sim: Sim, client: DriftiClient, tenant: tuple[str, str]
) -> None:
    sim.receiver.fail_first = 2
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    await client.customers.create({"name": "Tålmodig AS"})
    attempts = await sim.deliveries(tenant[0])
    assert [(a["attempt"], a["succeeded"], a["final"]) for a in attempts] == [
        (1, False, False),
        (2, False, False),
        (3, True, True),
    ]
    assert attempts[0]["error"] == "receiver answered 500"
    bodies = sim.receiver.received
    assert len(bodies) == 3 and len({h["x-drifti-event-id"] for _, h in bodies}) == 1
    assert [h["x-drifti-delivery-attempt"] for _, h in bodies] == ["1", "2", "3"]
    for body, headers in bodies:
        parse_webhook(SECRET, body, headers)  # every attempt is signed and verifies


async def test_delivery_gives_up_after_the_last_attempt(
    sim: Sim, client: DriftiClient, tenant: tuple[str, str]
) -> None:
    sim.receiver.fail_first = 100
    await client.webhooks.create(RECEIVER_URL, secret=SECRET)
    await client.customers.create({"name": "Nede AS"})
    attempts = await sim.deliveries(tenant[0])
    assert len(attempts) == 4 and attempts[-1]["final"] and not attempts[-1]["succeeded"]


async def test_unsubscribing_stops_delivery(sim: Sim, client: DriftiClient) -> None:
    hook = await client.webhooks.create(RECEIVER_URL)
    assert hook.secret and hook.secret.startswith("whsec_")  # generated, shown once
    assert [h.id for h in await client.webhooks.list()] == [hook.id]
    await client.webhooks.delete(hook.id)
    await client.customers.create({"name": "Stille AS"})
    await sim.state.dispatcher.drain(5)
    assert sim.receiver.received == []
