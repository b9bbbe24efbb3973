"""``tsync demo``: the real engine moving changes end to end, narrated hop by hop.

Runs every role in this process against the configured Kafka and PostgreSQL (``make demo``
starts the project's own), serves the ingest API on a real port, sends changes to it over
HTTP, and prints what appears on each topic and in the projection tables.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import headers
from contracts.entities import CustomerSnapshot, ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, DecisionRecord, EntityType, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import (
    DECISION_CONSUMER,
    SVENN_CHANGES,
    SVENN_COMMANDS,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    TRIPLETEX_CHANGES,
    TRIPLETEX_COMMANDS,
    dead_letter_topic,
)
from services.core.logs import configure_logging
from services.core.settings import Settings
from services.core.tracing import configure_tracing
from services.runtime import ALL_ROLES, Runtime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(tenant: str) -> list[ChangeEvent]:
    now = datetime.now(UTC)
    project = ProjectSnapshot(number="2024.17", name="Bathroom, Storgata 4", start_date=date(2026, 11, 2))
    customer = CustomerSnapshot(customer_number="10042", name="Nordmann Bygg AS", email="post@nordmann.no")
    return [
        ChangeEvent(
            tenant_id=tenant,
            correlation_id=uuid.uuid4(),
            event_id=change_event_id(tenant, "svenn", "project", "sv-981", "1"),
            source=SourceSystem.SVENN,
            entity_type=EntityType.PROJECT,
            entity_id="sv-981",
            change_kind=ChangeKind.CREATED,
            occurred_at=now,
            source_version="1",
            snapshot=project,
        ),
        ChangeEvent(
            tenant_id=tenant,
            correlation_id=uuid.uuid4(),
            event_id=change_event_id(tenant, "svenn", "project", "sv-982", "1"),
            source=SourceSystem.SVENN,
            entity_type=EntityType.PROJECT,
            entity_id="sv-982",
            change_kind=ChangeKind.CREATED,
            occurred_at=now,
            source_version="1",
            snapshot=ProjectSnapshot(number="2024.18", name="Garage, no start date yet"),
        ),
        ChangeEvent(
            tenant_id=tenant,
            correlation_id=uuid.uuid4(),
            event_id=change_event_id(tenant, "tripletex", "customer", "31337", "4"),
            source=SourceSystem.TRIPLETEX,
            entity_type=EntityType.CUSTOMER,
            entity_id="31337",
            change_kind=ChangeKind.UPDATED,
            occurred_at=now,
            source_version="4",
            snapshot=customer,
        ),
    ]


async def _watch(settings: Settings, tenant: str, ready: asyncio.Event) -> None:
    """Print each message of this tenant as it appears on the engine's topics."""
    topics = [
        SVENN_CHANGES,
        TRIPLETEX_CHANGES,
        SYNC_DECISIONS,
        TRIPLETEX_COMMANDS,
        SVENN_COMMANDS,
        SYNC_OUTCOMES,
    ]
    topics.append(dead_letter_topic(DECISION_CONSUMER))
    consumer = AIOKafkaConsumer(
        *(settings.topic(t) for t in topics),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        await asyncio.sleep(0.5)  # let the watcher take its partitions before anything is sent
        ready.set()
        while True:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    h = {k: v.decode() for k, v in r.headers if v is not None}
                    if h.get(headers.TENANT) != tenant and tenant.encode() not in (r.key or b""):
                        continue
                    topic = r.topic.removeprefix(settings.topic_prefix)
                    if topic.startswith("dlq."):
                        print(f"  [{topic}] dead letter: {h.get(headers.DLQ_REASON)}")
                    else:
                        if headers.MESSAGE_TYPE not in h:
                            print(f"  [{topic}] raw bytes, not a contract message: {r.value[:20]!r}")
                            continue
                        kind, message_id = h[headers.MESSAGE_TYPE], h.get(headers.MESSAGE_ID)
                        trace_id = h.get("traceparent", "--").split("-")[1]
                        print(f"  [{topic}] {kind} {message_id}  trace {trace_id}")
                        if kind == "decision":
                            d = DecisionRecord.model_validate_json(r.value or b"")
                            code = f" {d.error_code}" if d.error_code else ""
                            print(f"      {d.rule_id} {d.verdict}{code}: {d.reason}")
    except asyncio.CancelledError:
        pass
    finally:
        await consumer.stop()


async def run_demo(settings: Settings) -> int:
    configure_logging("WARNING", "text")
    configure_tracing(settings.service_name)
    tenant = f"demo-{uuid.uuid4().hex[:6]}"
    runtime = Runtime(settings, ALL_ROLES)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(runtime.http_app(), host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
        if serving.done():
            await serving
            return 1
    print(f"engine running (ingest, decision, writers, projections); ingest API on http://127.0.0.1:{port}")
    print(f"tenant: {tenant}\n")
    ready = asyncio.Event()
    watcher = asyncio.create_task(_watch(settings, tenant, ready))
    await ready.wait()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for event in _events(tenant):
                snapshot = (
                    event.snapshot.model_dump(mode="json", exclude_defaults=True) if event.snapshot else None
                )
                what = f"{event.source} {event.entity_type} {event.entity_id} ({event.change_kind})"
                print(f"POST /v1/changes  {what}")
                response = await http.post("/v1/changes", content=event.model_dump_json())
                print(f"  -> {response.status_code} {response.json()}\n     snapshot {snapshot}")
            print("POST /v1/changes  (malformed: tenant id with spaces)")
            bad = await http.post("/v1/changes", content=b'{"tenant_id": "not a tenant"}')
            print(f"  -> {bad.status_code} {bad.json()['error']}: {len(bad.json()['details'])} problems")
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        await producer.send_and_wait(settings.topic(TRIPLETEX_CHANGES), b"{not json", key=tenant.encode())
        await producer.stop()
        print(f"raw garbage published to {TRIPLETEX_CHANGES} (the decision must dead-letter it and go on)\n")

        rows = await _wait_for_outcomes(settings.database_url, tenant, 2)
        await asyncio.sleep(0.5)
        print("\nprojection sync_outcome (PostgreSQL):")
        for row in rows:
            print(
                f"  {row['entity_type']:<9} {row['source_entity_id']:<7} -> {row['target']:<9}"
                f" {row['operation']:<7} {row['status']:<8} rule={row['rule_id']}"
                f"  {row['reason'] or ''}{row['error_code'] or ''}: {row['error_message'] or ''}"
            )
        print("\nWhat works so far: the S-rules decide, on real Kafka and PostgreSQL, one trace per change.")
        print("This demo tenant has no Tripletex or Svenn connection, so the writers report that.")
        return 0
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        server.should_exit = True
        await serving


async def _wait_for_outcomes(database_url: str, tenant: str, count: int) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(60):
            while True:
                rows = await connection.fetch(
                    "SELECT * FROM sync_outcome WHERE tenant_id = $1 ORDER BY recorded_at", tenant
                )
                if len(rows) >= count:
                    return rows
                await asyncio.sleep(0.2)
    finally:
        await connection.close()
