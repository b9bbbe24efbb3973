"""Tripletex webhook subscriptions the engine switches on again, on real Kafka, the simulator over HTTP.

Tripletex switches a subscription off (``DISABLED_TOO_MANY_ERRORS``) when its deliveries keep
failing, and then sends nothing more. The engine's ingest checks its tenants' subscriptions at
start-up and every ``TRIPLETEX_SUBSCRIPTION_CHECK_INTERVAL_S``: a disabled one is switched on,
and a full pass reads at once what Tripletex did not send meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from contracts.envelope import EntityType
from contracts.topics import TRIPLETEX_CHANGES, record_key
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, TripletexAccess
from services.core.topic_admin import ensure_topics
from services.runtime import Role, Runtime
from services.tripletex.catch_up import (
    MISSING,
    SUBSCRIBED_EVENTS,
    SubscriptionGuard,
    ensure_subscriptions,
    webhook_url,
)
from services.tripletex.ingest import TripletexClients
from services.tripletex.simulator.state import Company, SimulatorState
from services.tripletex.simulator.testing import BASE_URL, SimulatorHarness, serve_asgi
from services.tripletex.simulator.webhooks import WebhookConfig
from tests.integration.topic_reader import read_topic
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

SECRET = "tripletex-subscription-secret-for-tests"
ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


@dataclass
class Gate:
    """The engine's public address: answers 503 while the engine is away (no ``app``, or ``down``)."""

    app: ASGIApp | None = None
    down: bool = False

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (self.app is None or self.down):
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        assert self.app is not None
        await self.app(scope, receive, send)


def _tenant(tenant_id: str, company: Company, base_url: str) -> TenantConfig:
    access = TripletexAccess(
        base_url=base_url,
        consumer_token=SecretStr(company.consumer_token),
        employee_token=SecretStr(company.employee_token),
        webhook_secret=SecretStr(SECRET),
    )
    return TenantConfig(tenant_id=tenant_id, tripletex=access)


def _statuses(company: Company) -> dict[str, str]:
    return {row["event"]: row["status"] for row in company.table("Subscription").values()}


def _reenabled(event: str) -> float:
    labels = {"event": event, "status": "DISABLED_TOO_MANY_ERRORS"}
    return REGISTRY.get_sample_value("tsync_tripletex_subscriptions_reenabled_total", labels) or 0.0


async def test_a_disabled_subscription_is_switched_on_and_what_it_missed_is_read(
    settings: Settings, tenant_id: str
) -> None:
    # Two deliveries in a row that fail every attempt switch a subscription off.
    state = SimulatorState(webhook_config=WebhookConfig(retry_delays=(0.01,), disable_after_failures=2))
    gate = Gate()
    async with (
        SimulatorHarness(state) as sim,  # the user's own calls, in process
        serve_asgi(sim.app) as tx_url,  # the engine's, over HTTP
        serve_asgi(gate, lifespan="off") as engine_url,
    ):
        user = await sim.tenant("Abonnement AS")
        company = user.company
        tenants = StaticTenantDirectory([_tenant(tenant_id, company, f"{tx_url}/v2")])
        # Subscribed when the tenant was connected, then the engine went away.
        clients = TripletexClients(tenants)
        await ensure_subscriptions(
            await clients(tenant_id), tenant_id, webhook_url(engine_url, tenant_id), hmac_secret=SECRET
        )
        await clients.aclose()

        async def new_customer(name: str) -> str:
            created = await sim.client.post("/v2/customer", auth=user.auth, json={"name": name})
            assert created.status_code == 201, created.text
            return str(created.json()["value"]["id"])

        async def on_the_topic(customer_id: str) -> None:
            key = record_key(tenant_id, EntityType.CUSTOMER, customer_id)
            await read_topic(settings, TRIPLETEX_CHANGES, lambda r: r.key == key, 1)

        # 1. The engine is down: deliveries fail until Tripletex disables customer.create;
        #    a customer created after that is not even attempted.
        failed = [await new_customer("Feilet AS"), await new_customer("Feilet igjen AS")]
        await until(lambda: _statuses(company)["customer.create"] == "DISABLED_TOO_MANY_ERRORS")
        missed = await new_customer("Mens av AS")
        assert {d.object_id for d in state.webhooks.deliveries} == {int(i) for i in failed}
        before = _reenabled("customer.create")

        # The engine starts: its start-up check switches the subscription on and reads the rest.
        engine = settings.model_copy(
            update={"public_base_url": engine_url, "tripletex_subscription_check_interval_s": 1.0}
        )
        runtime = Runtime(engine, [Role.INGEST], tenants=tenants)
        gate.app = runtime.http_app()
        await runtime.start()
        try:
            for customer_id in (*failed, missed):
                await on_the_topic(customer_id)
            assert _statuses(company) == dict.fromkeys(SUBSCRIBED_EVENTS, "ACTIVE")
            assert _reenabled("customer.create") == before + 1

            # 2. While it runs, the engine is unreachable for a moment: Tripletex disables the
            #    subscription again, and the next check round switches it on and reads the rest.
            gate.down = True
            failed = [await new_customer("Borte AS"), await new_customer("Borte igjen AS")]
            await until(
                lambda: (
                    _statuses(company)["customer.create"] != "ACTIVE"
                    or _reenabled("customer.create") > before + 1
                )
            )
            gate.down = False
            missed = await new_customer("Mens av igjen AS")
            for customer_id in (*failed, missed):
                await on_the_topic(customer_id)
            await until(lambda: _statuses(company)["customer.create"] == "ACTIVE")
            assert _reenabled("customer.create") == before + 2
        finally:
            await runtime.stop()


async def test_two_ingests_checking_at_once_switch_on_once_and_create_nothing(
    settings: Settings, tenant_id: str
) -> None:
    """Every ingest replica checks: two switch-ons at once are one, and a missing one is reported."""
    await ensure_topics(settings)
    async with SimulatorHarness() as sim, Publisher(settings) as publisher:
        user = await sim.tenant("To replikaer AS")
        tenants = StaticTenantDirectory([_tenant(tenant_id, user.company, f"{BASE_URL}/v2")])
        clients = TripletexClients(tenants, transport=httpx.ASGITransport(app=sim.app))
        client = await clients(tenant_id)
        target = webhook_url("https://sync.example.no", tenant_id)
        await ensure_subscriptions(client, tenant_id, target, hmac_secret=SECRET)
        rows = user.company.table("Subscription")
        by_event = {row["event"]: row for row in rows.values()}
        by_event["customer.create"]["status"] = "DISABLED_TOO_MANY_ERRORS"  # Tripletex switched it off
        del rows[by_event["project.delete"]["id"]]  # and someone deleted one
        created = await sim.client.post("/v2/customer", auth=user.auth, json={"name": "Uten varsel AS"})
        key = record_key(tenant_id, EntityType.CUSTOMER, str(created.json()["value"]["id"]))
        before = _reenabled("customer.create")

        replicas = (SubscriptionGuard(publisher), SubscriptionGuard(publisher))
        await asyncio.gather(
            *(r.check(client, tenant_id, target, SECRET) for r in replicas), return_exceptions=True
        )
        await clients.aclose()

    assert _reenabled("customer.create") == before + 1
    assert sorted(_statuses(user.company)) == sorted(set(SUBSCRIBED_EVENTS) - {"project.delete"})
    assert set(_statuses(user.company).values()) == {"ACTIVE"}
    missing = {"event": "project.delete", "status": MISSING}
    assert REGISTRY.get_sample_value("tsync_tripletex_subscriptions_disabled", missing) == 1
    disabled = {"event": "customer.create", "status": "DISABLED_TOO_MANY_ERRORS"}
    assert REGISTRY.get_sample_value("tsync_tripletex_subscriptions_disabled", disabled) in (None, 0)
    await read_topic(settings, TRIPLETEX_CHANGES, lambda r: r.key == key, 1)  # the pass it owed


async def test_S_X1_webhooks_off_after_the_check_is_one_error_log_entry_resolved_when_all_are_active(
    settings: Settings, tenant_id: str
) -> None:
    """A subscription the check cannot switch on (missing: someone deleted it) is one
    ``TRIPLETEX_WEBHOOKS_OFF`` entry for the tenant, in the panel's error log, until a check finds
    every subscription active."""
    runtime = Runtime(settings, [Role.PROJECTIONS], tenants=StaticTenantDirectory())
    await runtime.start()
    try:
        async with SimulatorHarness() as sim:
            user = await sim.tenant("Uten varsler AS")
            tenants = StaticTenantDirectory([_tenant(tenant_id, user.company, f"{BASE_URL}/v2")])
            clients = TripletexClients(tenants, transport=httpx.ASGITransport(app=sim.app))
            client = await clients(tenant_id)
            target = webhook_url("https://sync.example.no", tenant_id)
            await ensure_subscriptions(client, tenant_id, target, hmac_secret=SECRET)
            rows = user.company.table("Subscription")
            deleted = next(row for row in rows.values() if row["event"] == "project.update")
            del rows[deleted["id"]]
            guard = SubscriptionGuard(runtime.publisher)
            await guard.check(client, tenant_id, target, SECRET)
            await guard.check(client, tenant_id, target, SECRET)  # still missing: no second entry

            pool = await runtime.database_pool()

            async def entries() -> list[Any]:
                query = (
                    "SELECT * FROM error_log WHERE tenant_id = $1 AND error_code = 'TRIPLETEX_WEBHOOKS_OFF'"
                )
                return list(await pool.fetch(query, tenant_id))

            async def opened() -> bool:
                return bool(await entries())

            await until(opened)
            (entry,) = await entries()
            assert (entry["system"], entry["entity_type"], entry["entity_id"]) == (
                "tripletex",
                "connection",
                "tripletex-webhooks",
            )
            assert "project.update (MISSING)" in entry["detail"] and entry["resolved_at"] is None
            assert entry["occurrences"] == 1

            await ensure_subscriptions(client, tenant_id, target, hmac_secret=SECRET)  # reconnected
            await guard.check(client, tenant_id, target, SECRET)

            async def resolved() -> bool:
                return all(r["resolved_at"] is not None for r in await entries())

            await until(resolved)
            await clients.aclose()
    finally:
        await runtime.stop()
