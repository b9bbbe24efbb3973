"""Tripletex's ingest edge on real Kafka, against the Tripletex simulator over real HTTP.

The simulator delivers signed webhooks with its own HTTP client to the engine's receiver,
served by uvicorn on a loopback port, exactly as Tripletex would; the receiver fetches what
a webhook leaves out through the production client (pointed at the simulator in process) and
publishes onto ``tripletex.changes.v1``, read back here straight from Kafka.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from contracts import headers
from contracts.entities import CustomerSnapshot, ProjectSnapshot, ProjectStatus
from contracts.envelope import ChangeEvent, ChangeKind, EntityType
from contracts.ids import change_event_id
from contracts.topics import TRIPLETEX_CHANGES, record_key
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, TripletexAccess
from services.core.topic_admin import ensure_topics
from services.tripletex.catch_up import (
    SUBSCRIBED_EVENTS,
    ensure_subscriptions,
    reconcile_tripletex,
    webhook_url,
)
from services.tripletex.client import ClientSettings, RetryPolicy, TripletexClient
from services.tripletex.ingest import (
    TripletexClients,
    client_fetcher,
    expected_signature,
    project_source_version,
    tripletex_webhook_routes,
)
from services.tripletex.simulator.state import Company, SimulatorState
from services.tripletex.simulator.testing import BASE_URL, SimulatorHarness, Tenant, serve_asgi
from services.tripletex.simulator.webhooks import WebhookConfig
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration

SECRET = "tripletex-webhook-secret-for-tests"
FAST = ClientSettings(retry=RetryPolicy(server_error_base_seconds=0.01, rate_limit_base_seconds=0.01))


@dataclass
class Edge:
    """The receiver (served on ``url``), its publisher, the simulator and the tenant wiring."""

    settings: Settings
    url: str
    sim: SimulatorHarness
    tenants: StaticTenantDirectory
    clients: TripletexClients
    publisher: Publisher

    async def connect(self, tenant_id: str, *, subscribe: bool = True) -> tuple[Tenant, TripletexClient]:
        """A fresh Tripletex company registered as ``tenant_id``; subscribed to the receiver."""
        tenant = await self.sim.tenant(f"Firma {tenant_id}")
        self.tenants.put(
            TenantConfig(
                tenant_id=tenant_id,
                tripletex=TripletexAccess(
                    base_url=f"{BASE_URL}/v2",
                    consumer_token=tenant.company.consumer_token,
                    employee_token=tenant.company.employee_token,
                    webhook_secret=SECRET,
                ),
            )
        )
        client = await self.clients(tenant_id)
        if subscribe:
            await ensure_subscriptions(
                client, tenant_id, webhook_url(self.url, tenant_id), hmac_secret=SECRET
            )
        return tenant, client

    async def api(self, tenant: Tenant, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.sim.client.request(method, f"/v2{path}", json=body, auth=tenant.auth)
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}


@pytest.fixture(scope="module")
async def edge(settings: Settings) -> AsyncIterator[Edge]:
    await ensure_topics(settings)
    sim = SimulatorHarness(SimulatorState(webhook_config=WebhookConfig(retry_delays=(0.05,))))
    tenants = StaticTenantDirectory()
    clients = TripletexClients(tenants, settings=FAST, transport=httpx.ASGITransport(app=sim.app))
    async with Publisher(settings) as publisher, sim:
        app = FastAPI()
        app.include_router(tripletex_webhook_routes(publisher, tenants, client_fetcher(clients)))
        async with serve_asgi(app, lifespan="off") as url:
            yield Edge(settings, url, sim, tenants, clients, publisher)
        await clients.aclose()


def _events(records: list[ConsumerRecord]) -> list[ChangeEvent]:
    return [ChangeEvent.model_validate_json(r.value) for r in records]


def _of_record(tenant_id: str, entity_type: EntityType, entity_id: Any) -> Any:
    key = record_key(tenant_id, entity_type, str(entity_id))
    return lambda r: r.key == key


def _of_tenant(tenant_id: str) -> Any:
    return lambda r: dict(r.headers).get(headers.TENANT) == tenant_id.encode()


async def _new_project(edge: Edge, tenant: Tenant, number: str, **extra: Any) -> dict[str, Any]:
    company: Company = tenant.company
    department = next(iter(company.table("Department")))
    worker = await edge.api(
        tenant,
        "POST",
        "/employee",
        {
            "firstName": "Kari",
            "lastName": "Nordmann",
            "userType": "NO_ACCESS",
            "department": {"id": department},
        },
    )
    customer = await edge.api(tenant, "POST", "/customer", {"name": "Kunde AS"})
    body = {
        "name": "Bad renovation",
        "number": number,
        "startDate": "2026-01-05",
        "projectManager": {"id": company.api_employee_id},
        "customer": {"id": customer["value"]["id"]},
        "participants": [{"employee": {"id": worker["value"]["id"]}}],
        **extra,
    }
    project: dict[str, Any] = (await edge.api(tenant, "POST", "/project", body))["value"]
    project["_worker"] = worker["value"]["id"]
    project["_customer"] = customer["value"]["id"]
    return project


async def test_project_webhook_lands_on_the_change_topic_and_redelivery_keeps_its_id(
    edge: Edge, tenant_id: str, spans: InMemorySpanExporter
) -> None:
    tenant, _ = await edge.connect(tenant_id)
    project = await _new_project(edge, tenant, "2024.17")
    await edge.sim.state.webhooks.drain()

    [record] = await read_topic(
        edge.settings, TRIPLETEX_CHANGES, _of_record(tenant_id, EntityType.PROJECT, project["id"]), 1
    )
    [event] = _events([record])
    assert event.change_kind is ChangeKind.CREATED
    version = project_source_version("0", (str(project["_worker"]),))
    assert event.source_version == version
    assert event.event_id == change_event_id(tenant_id, "tripletex", "project", str(project["id"]), version)
    assert event.snapshot == ProjectSnapshot(
        number="2024.17",
        name="Bad renovation",
        start_date=project["startDate"],
        status=ProjectStatus.ACTIVE,
        customer_id=str(project["_customer"]),
        member_ids=(str(project["_worker"]),),
    )
    server_spans = [s for s in spans.get_finished_spans() if s.name == "POST /webhooks/tripletex/{tenant_id}"]
    assert any(s.kind is SpanKind.SERVER for s in server_spans)

    # Tripletex retries a delivery with the same idempotency key and body: the same answer, so the
    # same event id (the ingest remembers the key and publishes nothing again: test_security_edge.py).
    [delivery] = [
        d
        for d in edge.sim.state.webhooks.deliveries
        if d.event == "project.create" and d.object_id == project["id"]
    ]
    assert delivery.status == "DELIVERED"
    async with httpx.AsyncClient() as http:
        again = await http.post(delivery.target_url, content=delivery.body, headers=delivery.headers)
    assert again.status_code == 202, again.text
    assert again.json()["event_id"] == str(event.event_id)


async def test_closing_and_deleting_a_project(edge: Edge, tenant_id: str) -> None:
    tenant, _ = await edge.connect(tenant_id)
    project = await _new_project(edge, tenant, "A12.3")
    await edge.api(tenant, "PUT", f"/project/{project['id']}", {"version": 0, "isClosed": True})
    await edge.api(tenant, "DELETE", f"/project/{project['id']}")
    await edge.sim.state.webhooks.drain()

    events = _events(
        await read_topic(
            edge.settings, TRIPLETEX_CHANGES, _of_record(tenant_id, EntityType.PROJECT, project["id"]), 3
        )
    )
    assert [e.change_kind for e in events] == [ChangeKind.CREATED, ChangeKind.UPDATED, ChangeKind.DELETED]
    closed = events[1].snapshot
    assert isinstance(closed, ProjectSnapshot) and closed.status is ProjectStatus.COMPLETED
    assert closed.number == "A12.3"
    deleted = events[2]
    assert deleted.snapshot is None
    assert deleted.event_id == change_event_id(
        tenant_id, "tripletex", "project", str(project["id"]), "deleted"
    )


async def test_incomplete_webhook_value_is_fetched(edge: Edge, tenant_id: str) -> None:
    """A subscription made without ``fields`` sends participants as ``{id, url}``: the receiver
    fetches the project and still publishes its members (S-P8)."""
    tenant, _ = await edge.connect(tenant_id, subscribe=False)
    await edge.api(
        tenant,
        "POST",
        "/event/subscription",
        {
            "event": "project.create",
            "targetUrl": webhook_url(edge.url, tenant_id),
            "hmacSharedSecret": SECRET,
        },
    )
    project = await _new_project(edge, tenant, "007")
    await edge.sim.state.webhooks.drain()
    [delivery] = [d for d in edge.sim.state.webhooks.deliveries if d.object_id == project["id"]]
    assert "employee" not in json.loads(delivery.body)["value"]["participants"][0]

    [event] = _events(
        await read_topic(
            edge.settings, TRIPLETEX_CHANGES, _of_record(tenant_id, EntityType.PROJECT, project["id"]), 1
        )
    )
    assert isinstance(event.snapshot, ProjectSnapshot)
    assert event.snapshot.number == "007"
    assert event.snapshot.member_ids == (str(project["_worker"]),)


async def test_bad_signatures_and_unknown_tenants_are_refused_and_publish_nothing(
    edge: Edge, tenant_id: str
) -> None:
    await edge.connect(tenant_id, subscribe=False)
    url = f"{edge.url}/webhooks/tripletex/{tenant_id}"
    value = {"id": 4242, "version": 7, "name": "Forfalsket"}
    forged = json.dumps(
        {"subscriptionId": 1, "event": "employee.update", "id": 4242, "value": value}
    ).encode()
    genuine = json.dumps(
        {"subscriptionId": 1, "event": "employee.delete", "id": 4242, "value": None}
    ).encode()

    def signed(body: bytes, key: str, secret: str = SECRET) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "idempotency-key": key,
            "x-request-signature": expected_signature(secret, key, body),
        }

    async with httpx.AsyncClient() as http:
        wrong_secret = await http.post(url, content=forged, headers=signed(forged, "k1", "not-the-secret"))
        unsigned = await http.post(url, content=forged, headers={"idempotency-key": "k2"})
        tampered = await http.post(url, content=forged + b" ", headers=signed(forged, "k3"))
        unknown = await http.post(
            f"{edge.url}/webhooks/tripletex/t-nobody", content=forged, headers=signed(forged, "k4")
        )
        sentinel = await http.post(url, content=genuine, headers=signed(genuine, "k5"))
    # One answer for every refusal: it does not tell an unknown tenant from a wrong signature.
    for response in (wrong_secret, unsigned, tampered, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert sentinel.status_code == 202

    # Same key, so same partition, in order: a forged event would have come before the sentinel.
    records = await read_topic(
        edge.settings, TRIPLETEX_CHANGES, _of_record(tenant_id, EntityType.EMPLOYEE, 4242), 1
    )
    assert [e.change_kind for e in _events(records)] == [ChangeKind.DELETED]


async def test_unsynced_event_kinds_are_acknowledged_and_ignored(edge: Edge, tenant_id: str) -> None:
    await edge.connect(tenant_id, subscribe=False)
    body = json.dumps({"subscriptionId": 1, "event": "voucher.create", "id": 5, "value": {"id": 5}}).encode()
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{edge.url}/webhooks/tripletex/{tenant_id}",
            content=body,
            headers={"idempotency-key": "k", "x-request-signature": expected_signature(SECRET, "k", body)},
        )
    assert response.status_code == 202
    assert response.json() == {"ignored": "voucher.create"}


async def test_a_change_kafka_did_not_store_is_not_acknowledged(edge: Edge, tenant_id: str) -> None:
    """503 makes Tripletex retry: the receiver never says yes to a change it could not keep."""
    await edge.connect(tenant_id, subscribe=False)
    app = FastAPI()
    unstarted = Publisher(edge.settings)
    app.include_router(tripletex_webhook_routes(unstarted, edge.tenants, client_fetcher(edge.clients)))
    body = json.dumps({"subscriptionId": 1, "event": "customer.delete", "id": 77, "value": None}).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine") as http:
        response = await http.post(
            f"/webhooks/tripletex/{tenant_id}",
            content=body,
            headers={"idempotency-key": "k", "x-request-signature": expected_signature(SECRET, "k", body)},
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"


async def test_an_unreadable_tripletex_is_not_acknowledged(edge: Edge, tenant_id: str) -> None:
    """When the value is incomplete and Tripletex cannot be read (here: revoked tokens), 503."""
    await edge.connect(tenant_id, subscribe=False)
    config = await edge.tenants.get(tenant_id)
    assert config.tripletex is not None
    revoked = config.tripletex.model_copy(update={"employee_token": SecretStr("revoked")})
    edge.tenants.put(config.model_copy(update={"tripletex": revoked}))
    body = json.dumps({"subscriptionId": 1, "event": "project.update", "id": 5, "value": {"id": 5}}).encode()
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{edge.url}/webhooks/tripletex/{tenant_id}",
            content=body,
            headers={"idempotency-key": "k", "x-request-signature": expected_signature(SECRET, "k", body)},
        )
    assert response.status_code == 503, response.text


async def test_ensure_subscriptions_is_idempotent_and_reactivates(edge: Edge, tenant_id: str) -> None:
    tenant, client = await edge.connect(tenant_id)  # first call creates all nine
    target = webhook_url(edge.url, tenant_id)
    rows = (await edge.api(tenant, "GET", "/event/subscription?fields=*"))["values"]
    assert sorted(r["event"] for r in rows) == sorted(SUBSCRIBED_EVENTS)
    disabled = next(r for r in rows if r["event"] == "customer.update")
    tenant.company.table("Subscription")[disabled["id"]]["status"] = "DISABLED_TOO_MANY_ERRORS"

    report = await ensure_subscriptions(client, tenant_id, target, hmac_secret=SECRET)
    assert report.created == []
    assert report.reactivated == ["customer.update"]
    rows = (await edge.api(tenant, "GET", "/event/subscription?fields=*"))["values"]
    assert len(rows) == len(SUBSCRIBED_EVENTS)
    assert all(r["status"] == "ACTIVE" for r in rows)


async def test_reconciliation_publishes_every_record_once_per_version(edge: Edge, tenant_id: str) -> None:
    tenant, client = await edge.connect(tenant_id, subscribe=False)
    internal = {
        "name": "Intern",
        "number": "I-1",
        "startDate": "2026-01-01",
        "isInternal": True,
        "projectManager": {"id": tenant.company.api_employee_id},
    }
    await edge.api(tenant, "POST", "/project", internal)
    await edge.api(tenant, "POST", "/customer", {"name": "Sovende AS", "isInactive": True})

    project = await _new_project(edge, tenant, "2024.18")
    first = await reconcile_tripletex(client, tenant_id, edge.publisher)
    # Two projects; the helper's customer plus the inactive one; the API user and the worker.
    assert (first.projects, first.customers, first.employees, first.skipped) == (2, 2, 2, 0)
    second = await reconcile_tripletex(client, tenant_id, edge.publisher)
    assert second.event_ids == first.event_ids

    events = _events(
        await read_topic(edge.settings, TRIPLETEX_CHANGES, _of_tenant(tenant_id), 2 * first.published)
    )
    assert len(events) == 2 * first.published
    assert sorted(str(e.event_id) for e in events) == sorted(first.event_ids * 2)
    assert all(e.change_kind is ChangeKind.UPDATED for e in events)
    inactive = [e for e in events if isinstance(e.snapshot, CustomerSnapshot) and not e.snapshot.active]
    assert len(inactive) == 2

    # S-P8: a new participant leaves the project's version alone; the next pass still sees it.
    api_user = tenant.company.api_employee_id
    await edge.api(
        tenant,
        "POST",
        "/project/participant",
        {"project": {"id": project["id"]}, "employee": {"id": api_user}},
    )
    third = await reconcile_tripletex(client, tenant_id, edge.publisher)
    assert len(set(third.event_ids) - set(first.event_ids)) == 1
    [changed] = [
        e
        for e in _events(
            await read_topic(
                edge.settings, TRIPLETEX_CHANGES, _of_record(tenant_id, EntityType.PROJECT, project["id"]), 3
            )
        )
        if str(e.event_id) not in first.event_ids
    ]
    assert isinstance(changed.snapshot, ProjectSnapshot)
    assert set(changed.snapshot.member_ids) == {str(project["_worker"]), str(api_user)}
