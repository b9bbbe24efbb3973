"""Svenn's two edges of the engine on real Kafka and PostgreSQL, against the Svenn simulator over
real HTTP: signed webhooks -> ingest -> ``svenn.changes.v1``, and ``svenn.commands.v1`` -> the
Svenn writer -> Svenn's state and ``sync_outcome`` rows."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from contracts.entities import CustomerSnapshot, EntitySnapshot, ProjectSnapshot
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    Command,
    EntityType,
    ExpectedLink,
    LinkState,
    Operation,
    SourceSystem,
)
from contracts.ids import change_event_id
from contracts.topics import (
    SVENN_CHANGES,
    SVENN_COMMANDS,
    SVENN_WRITER_CONSUMER,
    dead_letter_topic,
    record_key,
    topic_specs,
)
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, SvennAccess, TenantConfig
from services.runtime import Role, Runtime
from services.svenn.catch_up import DEFAULT_OVERLAP, poll_svenn_changes
from services.svenn.client import SvennClient, compute_signature
from services.svenn.simulator.app import create_app
from services.svenn.simulator.state import SimState
from services.svenn.simulator.testing import serve_asgi
from services.svenn.simulator.webhooks import WebhookSettings
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration

SECRET = "whsec_svenn_edges_test_secret"
OUTCOMES = "SELECT * FROM sync_outcome WHERE tenant_id = $1 ORDER BY recorded_at"


@dataclass
class Edges:
    runtime: Runtime
    tenants: StaticTenantDirectory
    sim: SimState
    sim_url: str
    ingest_url: str
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def edges(settings: Settings) -> AsyncIterator[Edges]:
    tenants = StaticTenantDirectory()
    sim = SimState(webhook_settings=WebhookSettings(retry_delays=(0.05, 0.1), timeout_seconds=5))
    # A quick probe: a Svenn that answers again is found within a second, not WRITER_PROBE_INTERVAL_S.
    quick = settings.model_copy(update={"writer_probe_interval_s": 0.3})
    runtime = Runtime(quick, [Role.SVENN_WRITER, Role.PROJECTIONS], tenants=tenants)
    await runtime.start()
    from services.svenn.ingest import svenn_webhook_routes

    ingest = FastAPI()
    ingest.include_router(svenn_webhook_routes(runtime.publisher, tenants))
    try:
        async with (
            serve_asgi(create_app(sim)) as sim_url,
            serve_asgi(ingest, lifespan="off") as ingest_url,
            httpx.AsyncClient(timeout=10) as http,
        ):
            yield Edges(runtime, tenants, sim, sim_url, ingest_url, http)
    finally:
        await runtime.stop()


@pytest.fixture
async def svenn(edges: Edges, tenant_id: str) -> AsyncIterator[SvennClient]:
    """A Svenn tenant named like the engine's tenant, registered in the engine's directory."""
    r = await edges.http.post(f"{edges.sim_url}/_sim/tenants", json={"name": tenant_id})
    r.raise_for_status()
    key = r.json()["api_key"]
    edges.tenants.put(
        TenantConfig(
            tenant_id=tenant_id,
            svenn=SvennAccess(base_url=edges.sim_url, api_key=key, webhook_secret=SECRET),
        )
    )
    async with SvennClient(edges.sim_url, key) as client:
        yield client


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    yield connection
    await connection.close()


async def dump(edges: Edges, tenant: str) -> dict[str, Any]:
    r = await edges.http.get(f"{edges.sim_url}/_sim/tenants/{tenant}/dump")
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


async def read_to_end(
    settings: Settings, topic: str, predicate: Callable[[ConsumerRecord], bool]
) -> list[Any]:
    """Every matching record in ``topic`` up to its current end: proves what was *not* published."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        (spec,) = [t for t in topic_specs(settings.topic_partitions) if t.name == topic]
        partitions = [TopicPartition(settings.topic(topic), p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord] = []
        async with asyncio.timeout(20):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    found.extend(r for r in records if predicate(r))
        return found
    finally:
        await consumer.stop()


async def poll_rows(
    db: asyncpg.Connection, tenant: str, until: Callable[[list[asyncpg.Record]], bool]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = []
    for _ in range(200):
        rows = await db.fetch(OUTCOMES, tenant)
        if until(rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"sync_outcome rows of {tenant} never satisfied the condition: {rows}")


# --------------------------------------------------------------------------- ingest
def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Svenn-Timestamp": ts,
        "X-Svenn-Signature": compute_signature(secret, ts, body),
    }


async def test_svenn_webhook_becomes_a_change_event_with_a_deterministic_id(
    edges: Edges, svenn: SvennClient, settings: Settings, tenant_id: str, spans: InMemorySpanExporter
) -> None:
    hook_url = f"{edges.ingest_url}/webhooks/svenn/{tenant_id}"
    await svenn.webhooks.create(hook_url, secret=SECRET)
    project = await svenn.projects.create(
        {"display_id": "2024.17", "name": "Tak", "start_date": "2024-03-01", "member_ids": []}
    )
    r = await edges.http.post(f"{edges.sim_url}/_sim/webhooks/drain", params={"wait_seconds": 10})
    assert r.json()["drained"] is True
    deliveries = (await edges.http.get(f"{edges.sim_url}/_sim/tenants/{tenant_id}/deliveries")).json()["data"]
    assert [(d["status_code"], d["succeeded"]) for d in deliveries] == [(202, True)]

    key = record_key(tenant_id, EntityType.PROJECT, project.id)
    (record,) = await read_topic(settings, SVENN_CHANGES, lambda r: r.key == key, count=1)
    event = ChangeEvent.model_validate_json(record.value or b"")
    expected_id = change_event_id(tenant_id, "svenn", "project", project.id, "1")
    assert event.event_id == expected_id
    assert (event.source, event.entity_type, event.entity_id, event.change_kind, event.source_version) == (
        SourceSystem.SVENN,
        EntityType.PROJECT,
        project.id,
        ChangeKind.CREATED,
        "1",
    )
    assert event.snapshot == ProjectSnapshot(number="2024.17", name="Tak", start_date=date(2024, 3, 1))
    (server_span,) = [
        s
        for s in spans.get_finished_spans()
        if s.name == "POST /webhooks/svenn/{tenant_id}"
        and (s.attributes or {}).get("tsync.tenant_id") == tenant_id
    ]
    assert server_span.kind is SpanKind.SERVER

    # Svenn delivers at least once: a redelivery (re-signed, new timestamp) is the same event.
    body = (
        '{"event_id": "evt_again", "event_type": "project.created", "occurred_at": '
        f'"{project.updated_at.isoformat()}", "tenant": "{tenant_id}", "resource_type": "project", '
        f'"resource_id": "{project.id}", "resource_version": 1, "data": {project.model_dump_json()}}}'
    ).encode()
    again = await edges.http.post(hook_url, content=body, headers=signed(body))
    assert again.status_code == 202, again.text
    assert again.json()["event_id"] == str(expected_id)

    # Catch-up polling publishes the same record version under the same id, and moves the watermarks
    # to the start of each listing less the overlap (never to the newest record seen).
    before = datetime.now(UTC)
    watermarks = await poll_from_start(svenn, tenant_id, edges)
    assert set(watermarks) == {"project", "customer", "employee"}
    after = datetime.now(UTC)
    assert all(before <= at + DEFAULT_OVERLAP <= after for at in watermarks.values())
    events = await read_topic(settings, SVENN_CHANGES, lambda r: r.key == key, count=3)
    assert {ChangeEvent.model_validate_json(r.value or b"").event_id for r in events} == {expected_id}

    # Forged, unsigned, unknown-tenant and malformed deliveries are refused, and publish nothing.
    forged = body.replace(project.id.encode(), b"prj_forged")
    bad = await edges.http.post(hook_url, content=forged, headers=signed(forged, "whsec_not_the_secret"))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "UNAUTHORIZED"
    unsigned = await edges.http.post(hook_url, content=forged, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    stranger = await edges.http.post(
        f"{edges.ingest_url}/webhooks/svenn/no-such-tenant", content=body, headers=signed(body)
    )
    assert (stranger.status_code, stranger.json()) == (401, bad.json())  # no tenant is told apart
    garbage = b'{"event_type": "project.created"}'
    malformed = await edges.http.post(hook_url, content=garbage, headers=signed(garbage))
    assert malformed.status_code == 422
    published = await read_to_end(
        settings, SVENN_CHANGES, lambda r: r.key.startswith(f"{tenant_id}|".encode())
    )
    assert {r.key for r in published} == {key}
    assert len(published) == 3  # webhook, redelivery, poll


async def poll_from_start(svenn: SvennClient, tenant_id: str, edges: Edges) -> dict[str, datetime]:
    return await poll_svenn_changes(
        svenn, tenant_id, datetime(2000, 1, 1, tzinfo=UTC), edges.runtime.publisher
    )


# --------------------------------------------------------------------------- writer
def command(
    tenant: str,
    operation: Operation,
    payload: EntitySnapshot | None,
    *,
    entity_type: EntityType | None = None,
    source_entity_id: str | None = None,
    target: str | None = None,
    command_id: uuid.UUID | None = None,
) -> Command:
    entity_type = entity_type or EntityType(payload.kind if payload is not None else "customer")
    return Command(
        tenant_id=tenant,
        correlation_id=uuid.uuid4(),
        command_id=command_id or uuid.uuid4(),
        source=SourceSystem.TRIPLETEX,
        target=SourceSystem.SVENN,
        operation=operation,
        entity_type=entity_type,
        source_entity_id=source_entity_id or f"tx-{uuid.uuid4().hex[:6]}",
        payload=payload,
        expected_link=ExpectedLink(
            state=LinkState.LINKED if target else LinkState.ABSENT, target_entity_id=target
        ),
        rule_id="S-TEST",
    )


async def send(edges: Edges, *commands: Command) -> None:
    for c in commands:
        key = record_key(c.tenant_id, c.entity_type, c.source_entity_id)
        await (await edges.runtime.publisher.send(SVENN_COMMANDS, key, c))


ROOF = ProjectSnapshot(number="2024.10", name="Tak", start_date=date(2024, 3, 1))


async def test_create_is_idempotent_and_a_repeated_command_creates_nothing_S_P8(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    create = command(tenant_id, Operation.CREATE, ROOF)
    # No number: only the Idempotency-Key (= command id) can recognise the repeat.
    unnumbered = command(tenant_id, Operation.CREATE, ProjectSnapshot(name="Uten nummer"))
    await send(edges, create, create, unnumbered, unnumbered)
    rows = await poll_rows(db, tenant_id, lambda r: len(r) >= 2)
    await asyncio.sleep(0.5)  # time for a (wrong) third row to show up
    rows = await db.fetch(OUTCOMES, tenant_id)
    assert sorted((r["command_id"], r["status"]) for r in rows) == sorted(
        [(create.command_id, "applied"), (unnumbered.command_id, "applied")]
    )
    projects = (await dump(edges, tenant_id))["projects"]
    assert len(projects) == 2
    by_name = {p["name"]: p for p in projects}
    assert by_name["Tak"]["display_id"] == "2024.10"
    assert by_name["Tak"]["version"] == 1
    (roof_row,) = [r for r in rows if r["command_id"] == create.command_id]
    assert roof_row["target_entity_id"] == by_name["Tak"]["id"]
    assert roof_row["target"] == "svenn" and roof_row["operation"] == "create"


async def test_create_links_to_the_record_with_that_number_S_C1(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    existing = await svenn.customers.create({"customer_number": "0042", "name": "Gammelt navn"})
    payload = CustomerSnapshot(customer_number="0042", name="Nytt navn", email="post@acme.no")
    await send(edges, command(tenant_id, Operation.CREATE, payload))
    (row,) = await poll_rows(db, tenant_id, lambda r: len(r) == 1)
    assert (row["status"], row["target_entity_id"]) == ("applied", existing.id)
    assert "matched" in row["reason"] and "customer_number '0042'" in row["reason"]
    (customer,) = (await dump(edges, tenant_id))["customers"]
    assert (customer["id"], customer["name"], customer["email"], customer["version"]) == (
        existing.id,
        "Nytt navn",
        "post@acme.no",
        2,
    )


async def test_two_svenn_records_with_the_number_are_ambiguous_and_nothing_is_linked(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    # Svenn refuses a second live customer with a number; data older than that check has them.
    first = await svenn.customers.create({"customer_number": "0077", "name": "Første"})
    second = await svenn.customers.create({"customer_number": "0078", "name": "Andre"})
    customers = edges.sim.tenants[tenant_id].customers
    customers[second.id] = customers[second.id].model_copy(update={"customer_number": "0077"})
    await send(
        edges, command(tenant_id, Operation.CREATE, CustomerSnapshot(customer_number="0077", name="Ny"))
    )
    (row,) = await poll_rows(db, tenant_id, lambda r: len(r) == 1)
    assert (row["status"], row["error_code"], row["target_entity_id"]) == ("failed", "MATCH_AMBIGUOUS", None)
    assert first.id in row["error_message"] and second.id in row["error_message"]
    names = sorted(c["name"] for c in (await dump(edges, tenant_id))["customers"])
    assert names == ["Andre", "Første"]  # neither overwritten, nothing created


async def test_update_that_changes_nothing_writes_nothing(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    project = await svenn.projects.create({"display_id": "77", "name": "Garasje", "start_date": "2026-01-05"})
    same = ProjectSnapshot(number="77", name="Garasje", start_date=date(2026, 1, 5))
    renamed = same.model_copy(update={"name": "Garasje og bod"})
    first = command(tenant_id, Operation.UPDATE, same, target=project.id, source_entity_id="tx-77")
    await send(edges, first)
    (row,) = await poll_rows(db, tenant_id, lambda r: len(r) == 1)
    assert (row["status"], row["reason"]) == ("applied", "already up to date (nothing written)")
    (stored,) = (await dump(edges, tenant_id))["projects"]
    assert stored["version"] == 1

    await send(
        edges, command(tenant_id, Operation.UPDATE, renamed, target=project.id, source_entity_id="tx-77")
    )
    rows = await poll_rows(db, tenant_id, lambda r: len(r) == 2)
    assert rows[-1]["reason"] == "updated name"
    (stored,) = (await dump(edges, tenant_id))["projects"]
    assert (stored["version"], stored["name"]) == (2, "Garasje og bod")

    # Field-level: only what changed on the other side is written; Svenn's newer end date survives.
    await svenn.projects.update(project.id, {"end_date": "2026-06-30"})
    narrowed = command(tenant_id, Operation.UPDATE, same, target=project.id, source_entity_id="tx-77")
    await send(edges, narrowed.model_copy(update={"changed_fields": ("name",)}))
    rows = await poll_rows(db, tenant_id, lambda r: len(r) == 3)
    assert rows[-1]["reason"] == "updated name"
    (stored,) = (await dump(edges, tenant_id))["projects"]
    assert (stored["version"], stored["name"], stored["end_date"]) == (4, "Garasje", "2026-06-30")


async def test_complete_delete_and_missing_target(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    project = await svenn.projects.create({"display_id": "88", "name": "Bad", "start_date": "2026-01-05"})
    customer = await svenn.customers.create({"customer_number": "31337", "name": "Kunde"})
    await send(
        edges,
        command(tenant_id, Operation.COMPLETE, None, entity_type=EntityType.PROJECT, target=project.id),
        command(tenant_id, Operation.DELETE, None, entity_type=EntityType.CUSTOMER, target=customer.id),
        command(tenant_id, Operation.UPDATE, ROOF, target="prj_does_not_exist"),
    )
    rows = await poll_rows(db, tenant_id, lambda r: len(r) == 3)
    by_op = {r["operation"]: r for r in rows}
    assert by_op["complete"]["status"] == "applied"
    assert by_op["delete"]["status"] == "applied"
    assert (by_op["update"]["status"], by_op["update"]["error_code"]) == ("failed", "WRITE_REJECTED")
    assert "does not exist" in by_op["update"]["error_message"]
    state = await dump(edges, tenant_id)
    assert state["projects"][0]["status"] == "completed"
    assert state["projects"][0]["name"] == "Bad"  # COMPLETE touches nothing else
    assert state["customers"][0]["status"] == "deleted"


async def test_validation_error_is_a_failed_outcome_WRITE_REJECTED(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    backwards = ProjectSnapshot(
        number="99", name="Baklengs", start_date=date(2026, 5, 1), end_date=date(2026, 1, 1)
    )
    await send(edges, command(tenant_id, Operation.CREATE, backwards))
    (row,) = await poll_rows(db, tenant_id, lambda r: len(r) == 1)
    assert (row["status"], row["error_code"]) == ("failed", "WRITE_REJECTED")
    assert "end_date" in row["error_message"]
    assert (await dump(edges, tenant_id))["projects"] == []


async def test_unknown_tenant_is_a_failed_outcome_not_a_crash(
    edges: Edges, db: asyncpg.Connection, tenant_id: str
) -> None:
    await send(edges, command(tenant_id, Operation.CREATE, ROOF))
    (row,) = await poll_rows(db, tenant_id, lambda r: len(r) == 1)
    assert (row["status"], row["error_code"]) == ("failed", "TENANT_NOT_CONNECTED")
    assert "not registered" in row["error_message"]


async def test_svenn_5xx_for_a_while_parks_the_tenant_then_applies_once(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, settings: Settings, tenant_id: str
) -> None:
    # More failures than the client retries one request: the tenant's command is parked (the batch
    # goes on with other tenants), and written once when the probe finds Svenn answering again.
    r = await edges.http.put(
        f"{edges.sim_url}/_sim/tenants/{tenant_id}/faults", json={"fail_next": 6, "error_status": 503}
    )
    r.raise_for_status()
    payload = CustomerSnapshot(customer_number="50001", name="Ustabil AS")
    create = command(tenant_id, Operation.CREATE, payload)
    await send(edges, create)
    rows = await poll_rows(db, tenant_id, lambda r: any(x["status"] == "applied" for x in r))
    assert [(x["status"], x["command_id"]) for x in rows] == [
        ("skipped", create.command_id),
        ("applied", create.command_id),
    ]
    assert "API_UNREACHABLE" in (rows[0]["reason"] or "")
    state = await dump(edges, tenant_id)
    assert state["faults"]["fail_next_remaining"] == 0
    assert [c["customer_number"] for c in state["customers"]] == ["50001"]
    key = record_key(tenant_id, EntityType.CUSTOMER, create.source_entity_id)
    dead = await read_to_end(settings, dead_letter_topic(SVENN_WRITER_CONSUMER), lambda r: r.key == key)
    assert dead == []


async def test_create_links_to_the_top_level_project_and_keeps_its_members_S_P2_S_P4_S_P8(
    edges: Edges, svenn: SvennClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    kari = await svenn.employees.create({"first_name": "Kari", "last_name": "Nordmann"})
    ola = await svenn.employees.create({"first_name": "Ola", "last_name": "Nordmann"})
    parent = await svenn.projects.create(
        {"display_id": "A12.3", "name": "Hus", "start_date": "2026-01-05", "member_ids": [kari.id]}
    )
    sub = await svenn.projects.create({"name": "Hus, kjeller", "parent_id": parent.id})
    assert sub.display_id == "A12.3"  # sub-projects reuse the parent's display id (S-P2)
    payload = ProjectSnapshot(number="A12.3", name="Hus", start_date=date(2026, 1, 5), member_ids=(ola.id,))
    await send(edges, command(tenant_id, Operation.CREATE, payload))
    (row,) = await poll_rows(db, tenant_id, lambda r: len(r) == 1)
    assert (row["status"], row["target_entity_id"]) == ("applied", parent.id)
    assert row["reason"].endswith("updated member_ids")
    projects = {p["id"]: p for p in (await dump(edges, tenant_id))["projects"]}
    assert len(projects) == 2
    assert projects[parent.id]["member_ids"] == [kari.id, ola.id]
    assert projects[sub.id]["version"] == 1
