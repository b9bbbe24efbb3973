"""The walking skeleton on real Kafka and PostgreSQL: change -> decision -> command -> writer ->
outcome -> projection row, one trace across every hop, duplicates absorbed, bad messages dead-lettered."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from contracts import headers
from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, DecisionRecord, EntityType, SourceSystem, Verdict
from contracts.ids import change_event_id
from contracts.topics import (
    DECISION_CONSUMER,
    PROJECTIONS_CONSUMER,
    SVENN_COMMANDS,
    SVENN_WRITER_CONSUMER,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    TRIPLETEX_CHANGES,
    TRIPLETEX_COMMANDS,
    TRIPLETEX_WRITER_CONSUMER,
    dead_letter_topic,
    record_key,
    record_key_of,
)
from services.core.settings import Settings
from services.runtime import Runtime
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration

OUTCOMES_OF_TENANT = "SELECT * FROM sync_outcome WHERE tenant_id = $1"
STATUS_OF_TENANT = "SELECT * FROM sync_status WHERE tenant_id = $1"


def project_event(tenant_id: str, entity_id: str = "svenn-p-1", version: str = "1") -> ChangeEvent:
    return ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        event_id=change_event_id(tenant_id, "svenn", "project", entity_id, version),
        source=SourceSystem.SVENN,
        entity_type=EntityType.PROJECT,
        entity_id=entity_id,
        change_kind=ChangeKind.CREATED,
        occurred_at=datetime.now(UTC),
        source_version=version,
        snapshot=ProjectSnapshot(number="2024.17", name="Bad renovation", start_date=date(2026, 1, 5)),
    )


async def wait_for_rows(database_url: str, query: str, *args: object, count: int = 1) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        for _ in range(300):
            rows = await connection.fetch(query, *args)
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.1)
        raise AssertionError(f"expected {count} rows from {query!r} with {args}, got {len(rows)}")
    finally:
        await connection.close()


async def test_change_event_reaches_the_projection_through_every_hop(
    client: httpx.AsyncClient, settings: Settings, tenant_id: str
) -> None:
    event = project_event(tenant_id)
    response = await client.post("/v1/changes", content=event.model_dump_json())
    assert response.status_code == 202, response.text
    assert response.json()["topic"] == "svenn.changes.v1"

    rows = await wait_for_rows(settings.database_url, OUTCOMES_OF_TENANT, tenant_id)
    (row,) = rows
    assert row["target"] == "tripletex"
    assert row["operation"] == "create"
    assert row["entity_type"] == "project"
    assert row["source_entity_id"] == "svenn-p-1"
    # The test tenant has no Tripletex connection: the writer says so, and the error log shows it.
    assert (row["status"], row["error_code"]) == ("failed", "TENANT_NOT_CONNECTED")
    assert row["rule_id"] == "S-P4"
    assert row["correlation_id"] == event.correlation_id

    status = await wait_for_rows(settings.database_url, STATUS_OF_TENANT, tenant_id)
    assert [(s["entity_type"], s["target"], s["applied"], s["skipped"], s["failed"]) for s in status] == [
        ("project", "tripletex", 0, 0, 1)
    ]


async def test_one_trace_spans_every_hop(
    client: httpx.AsyncClient, settings: Settings, tenant_id: str, spans: InMemorySpanExporter
) -> None:
    event = project_event(tenant_id, "svenn-p-traced")
    response = await client.post("/v1/changes", content=event.model_dump_json())
    assert response.status_code == 202
    await wait_for_rows(settings.database_url, "SELECT 1 FROM sync_outcome WHERE tenant_id = $1", tenant_id)

    (root,) = [
        s
        for s in spans.get_finished_spans()
        if s.name == "POST /v1/changes" and s.attributes.get("tsync.tenant_id") == tenant_id
    ]
    trace_id = root.context.trace_id
    in_trace = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}
    p = settings.topic_prefix
    hops = [
        ("POST /v1/changes", SpanKind.SERVER),
        (f"{p}svenn.changes.v1 publish", SpanKind.PRODUCER),
        (f"{p}svenn.changes.v1 process", SpanKind.CONSUMER),
        (f"{p}tripletex.commands.v1 publish", SpanKind.PRODUCER),
        (f"{p}tripletex.commands.v1 process", SpanKind.CONSUMER),
        (f"{p}sync.outcomes.v1 publish", SpanKind.PRODUCER),
        (f"{p}sync.outcomes.v1 process", SpanKind.CONSUMER),
    ]
    # Walk from the projection's span up to the webhook: each hop's parent is the previous hop.
    (last,) = [s for s in in_trace if s.name == hops[-1][0]]
    chain = [last]
    while chain[-1].parent is not None:
        chain.append(by_id[chain[-1].parent.span_id])
    assert [(s.name, s.kind) for s in reversed(chain)] == hops


async def test_a_redelivered_change_is_projected_once(
    client: httpx.AsyncClient, settings: Settings, tenant_id: str
) -> None:
    event = project_event(tenant_id, "svenn-p-twice")
    for _ in range(2):
        assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    marker = project_event(tenant_id, "svenn-p-after")
    assert (await client.post("/v1/changes", content=marker.model_dump_json())).status_code == 202

    rows = await wait_for_rows(
        settings.database_url, "SELECT * FROM sync_outcome WHERE tenant_id = $1", tenant_id, count=2
    )
    assert sorted(r["source_entity_id"] for r in rows) == ["svenn-p-after", "svenn-p-twice"]
    status = await wait_for_rows(settings.database_url, STATUS_OF_TENANT, tenant_id)
    assert status[0]["failed"] == 2


async def test_every_decision_is_recorded_with_its_rule_id_S_P1(
    client: httpx.AsyncClient, settings: Settings, tenant_id: str
) -> None:
    event = project_event(tenant_id, "svenn-p-no-start")
    event = event.model_copy(update={"snapshot": ProjectSnapshot(number="2024.99", name="No start date")})
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202

    key = record_key(tenant_id, "project", "svenn-p-no-start")
    (record,) = await read_topic(settings, SYNC_DECISIONS, lambda r: record_key_of(r.key) == key, count=1)
    decision = DecisionRecord.model_validate_json(record.value or b"")
    assert (decision.rule_id, decision.verdict, decision.error_code) == (
        "S-P1",
        Verdict.REJECT,
        "PROJECT_MISSING_START_DATE",
    )
    assert decision.cause_event_id == event.event_id
    assert decision.command_ids == ()


async def test_ingest_rejects_a_malformed_change_with_a_clear_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/changes", content=b'{"tenant_id": "Not Valid!", "source": "svenn"}')
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert {"tenant_id", "event_id", "entity_type", "occurred_at"} <= fields


@pytest.mark.parametrize(
    ("topic", "consumer", "why"),
    [
        (TRIPLETEX_CHANGES, DECISION_CONSUMER, b"Field required"),
        (TRIPLETEX_COMMANDS, TRIPLETEX_WRITER_CONSUMER, b"Field required"),
        (SVENN_COMMANDS, SVENN_WRITER_CONSUMER, b"Field required"),
        (SYNC_OUTCOMES, PROJECTIONS_CONSUMER, b"Unable to extract tag using discriminator 'message_type'"),
        (SYNC_DECISIONS, PROJECTIONS_CONSUMER, b"Unable to extract tag using discriminator 'message_type'"),
    ],
)
async def test_malformed_message_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(
    runtime: Runtime,
    client: httpx.AsyncClient,
    settings: Settings,
    tenant_id: str,
    topic: str,
    consumer: str,
    why: bytes,
) -> None:
    bad = f'{{"tenant_id": "{tenant_id}", "garbage": true}}'.encode()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        metadata = await producer.send_and_wait(settings.topic(topic), bad, key=tenant_id.encode())
        await producer.send_and_wait(settings.topic(topic), b"\xff not json", key=tenant_id.encode())
    finally:
        await producer.stop()

    dead = await read_topic(
        settings, dead_letter_topic(consumer), lambda r: r.key == tenant_id.encode(), count=2
    )
    first = dict(dead[0].headers)
    assert dead[0].value == bad
    assert first[headers.DLQ_STAGE] == b"decode"
    assert first[headers.DLQ_CONSUMER] == consumer.encode()
    assert first[headers.DLQ_SOURCE_TOPIC] == settings.topic(topic).encode()
    assert first[headers.DLQ_SOURCE_OFFSET] == str(metadata.offset).encode()
    assert why in first[headers.DLQ_REASON]
    assert b"invalid" in dict(dead[1].headers)[headers.DLQ_REASON].lower()

    # The consumer is still alive: a good change still goes all the way through.
    event = project_event(tenant_id, "svenn-p-after-garbage")
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    await wait_for_rows(settings.database_url, "SELECT 1 FROM sync_outcome WHERE tenant_id = $1", tenant_id)


async def test_metrics_count_decisions_writes_and_lag(
    client: httpx.AsyncClient, settings: Settings, tenant_id: str
) -> None:
    event = project_event(tenant_id, "svenn-p-metrics")
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    await wait_for_rows(settings.database_url, OUTCOMES_OF_TENANT, tenant_id)
    text = (await client.get("/metrics")).text
    assert 'tsync_decisions_total{rule_id="S-P4",verdict="command"}' in text
    assert 'tsync_writes_total{operation="create",status="failed",target="tripletex"}' in text
    assert f'tsync_messages_published_total{{topic="{settings.topic("tripletex.commands.v1")}"}}' in text
    lag_lines = [line for line in text.splitlines() if line.startswith("tsync_consumer_lag_messages{")]
    assert any('consumer="sync-decision"' in line for line in lag_lines), lag_lines
