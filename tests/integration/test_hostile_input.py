"""A message that cannot be handled never stops a partition (security #10 item 2, faults #16).

On real Kafka and PostgreSQL, with messages produced straight onto the topics (no ingest in
between): a hostile change, a change whose state write PostgreSQL refuses, a Svenn project
with a NUL in its name (S-X2), and outcomes PostgreSQL or asyncpg refuse. In each case the bad
message is dead-lettered with its reason (or, for user text, rejected with an error-log entry)
and the good messages behind it on the same partition are handled, each once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from contracts import headers
from contracts.entities import ProjectSnapshot
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    DecisionRecord,
    EntityType,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
    Verdict,
)
from contracts.error_codes import RECORD_TEXT_INVALID
from contracts.ids import change_event_id, command_id, outcome_id
from contracts.topics import (
    DECISION_CONSUMER,
    PROJECTIONS_CONSUMER,
    SVENN_CHANGES,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    TRIPLETEX_COMMANDS,
    dead_letter_topic,
    record_key,
)
from services.core.settings import Settings
from services.runtime import Role, Runtime
from tests.integration.topic_reader import read_to_end, read_topic

pytestmark = pytest.mark.integration

# Everything but the ingest: these messages bypass it, as a hostile producer on Kafka would.
ROLES = (Role.DECISION, Role.TRIPLETEX_WRITER, Role.SVENN_WRITER, Role.PROJECTIONS)
START = date(2026, 1, 5)


@pytest.fixture(scope="module")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime(settings, ROLES)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    yield connection
    await connection.close()


def project_change(tenant: str, entity_id: str, version: str = "1", name: str = "Roof") -> ChangeEvent:
    return ChangeEvent(
        tenant_id=tenant,
        correlation_id=uuid.uuid4(),
        event_id=change_event_id(tenant, "svenn", "project", entity_id, version),
        source=SourceSystem.SVENN,
        entity_type=EntityType.PROJECT,
        entity_id=entity_id,
        change_kind=ChangeKind.UPDATED,
        occurred_at=datetime.now(UTC),
        source_version=version,
        snapshot=ProjectSnapshot(number=f"N-{entity_id}", name=name, start_date=START),
    )


async def produce(settings: Settings, topic: str, key: bytes, values: list[bytes]) -> None:
    """Onto ``topic`` in this order, one key (one partition), sent together so they share batches."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20)
    await producer.start()
    try:
        sent = [await producer.send(settings.topic(topic), value, key=key) for value in values]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def wait_for_rows(
    db: asyncpg.Connection, query: str, *args: object, count: int = 1
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = []
    for _ in range(300):
        rows = await db.fetch(query, *args)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} rows from {query!r} with {args}, got {len(rows)}")


def of_tenant(tenant: str) -> Callable[[ConsumerRecord], bool]:
    return lambda r: (r.key or b"").startswith(f"{tenant}|".encode())


OUTCOME_OF = "SELECT * FROM sync_outcome WHERE tenant_id = $1 AND source_entity_id = $2"


async def test_a_hostile_change_is_dead_lettered_and_the_partition_goes_on(
    runtime: Runtime, settings: Settings, tenant_id: str, db: asyncpg.Connection
) -> None:
    key = record_key(tenant_id, EntityType.PROJECT, "sv-hostile")
    too_big = json.loads(project_change(tenant_id, "sv-hostile").model_dump_json())
    too_big["source_version"] = "99999999999999999999"  # does not fit the bigint it is kept in
    nul_id = json.loads(project_change(tenant_id, "sv-other").model_dump_json())
    nul_id["entity_id"] = "sv-\x00hostile"
    good = project_change(tenant_id, "sv-good")
    await produce(
        settings,
        SVENN_CHANGES,
        key,
        [json.dumps(too_big).encode(), json.dumps(nul_id).encode(), good.model_dump_json().encode()],
    )

    # The good change behind them on the same partition is decided, written and projected.
    (row,) = await wait_for_rows(db, OUTCOME_OF, tenant_id, "sv-good")
    assert (row["operation"], row["rule_id"]) == ("create", "S-P4")

    dead = await read_topic(settings, dead_letter_topic(DECISION_CONSUMER), lambda r: r.key == key, count=2)
    reasons = {dict(d.headers)[headers.DLQ_REASON].decode() for d in dead}
    assert {dict(d.headers)[headers.DLQ_STAGE] for d in dead} == {b"decode"}
    assert any("source_version" in r and "bigint" in r for r in reasons), reasons
    assert any("entity_id" in r and "control character" in r for r in reasons), reasons
    assert {d.value for d in dead} == {json.dumps(too_big).encode(), json.dumps(nul_id).encode()}


async def test_a_change_whose_state_write_fails_is_dead_lettered_and_its_neighbours_published_once(
    runtime: Runtime, settings: Settings, tenant_id: str, db: asyncpg.Connection
) -> None:
    # PostgreSQL itself refuses the decision's write for one record (a trigger scoped to this
    # test's tenant raising a data exception), as it would refuse a value it cannot store.
    function = f"refuse_{tenant_id.replace('-', '_')}"
    await db.execute(
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.tenant_id = '{tenant_id}' AND NEW.entity_id = 'sv-poison' THEN
                RAISE EXCEPTION 'record refused by the test' USING ERRCODE = 'data_exception';
              END IF;
              RETURN NEW;
            END $$"""
    )
    await db.execute(
        f"CREATE TRIGGER {function} BEFORE INSERT OR UPDATE ON seen_version "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
    )
    try:
        key = record_key(tenant_id, EntityType.PROJECT, "sv-batch")
        events = [project_change(tenant_id, e) for e in ("sv-before", "sv-poison", "sv-after")]
        await produce(settings, SVENN_CHANGES, key, [e.model_dump_json().encode() for e in events])

        await wait_for_rows(db, OUTCOME_OF, tenant_id, "sv-after")
        (dead,) = await read_topic(
            settings, dead_letter_topic(DECISION_CONSUMER), lambda r: r.key == key, count=1
        )
    finally:
        await db.execute(f"DROP TRIGGER IF EXISTS {function} ON seen_version")
        await db.execute(f"DROP FUNCTION IF EXISTS {function}()")

    assert dead.value == events[1].model_dump_json().encode()
    dead_headers = dict(dead.headers)
    assert dead_headers[headers.DLQ_STAGE] == b"decide"
    assert b"DataError" in dead_headers[headers.DLQ_REASON]
    assert b"record refused by the test" in dead_headers[headers.DLQ_REASON]

    # Nothing was published for the refused change, and each good one was published once.
    decisions = await read_to_end(settings, SYNC_DECISIONS, of_tenant(tenant_id))
    decided = sorted(DecisionRecord.model_validate_json(d.value or b"").entity_id for d in decisions)
    assert decided == ["sv-after", "sv-before"]
    commands = await read_to_end(settings, TRIPLETEX_COMMANDS, of_tenant(tenant_id))
    assert sorted(json.loads(c.value or b"")["source_entity_id"] for c in commands) == [
        "sv-after",
        "sv-before",
    ]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM seen_version WHERE tenant_id = $1 AND entity_id = 'sv-poison'", tenant_id
        )
        == 0
    )


async def test_S_X2_a_nul_typed_into_a_svenn_project_name_costs_one_error_log_entry(
    runtime: Runtime, settings: Settings, tenant_id: str, db: asyncpg.Connection
) -> None:
    key = record_key(tenant_id, EntityType.PROJECT, "sv-typo")
    typo = [project_change(tenant_id, "sv-typo", str(v), name="Tak\x00 Nordre") for v in (1, 2)]
    later = project_change(tenant_id, "sv-later")
    await produce(settings, SVENN_CHANGES, key, [e.model_dump_json().encode() for e in (*typo, later)])

    # Later changes on the partition flow ...
    await wait_for_rows(db, OUTCOME_OF, tenant_id, "sv-later")
    # ... and the record with the typo has one open error-log entry (two occurrences), in words.
    (entry,) = await wait_for_rows(
        db,
        "SELECT * FROM error_log WHERE tenant_id = $1 AND entity_id = 'sv-typo' AND occurrences = 2",
        tenant_id,
    )
    assert (entry["error_code"], entry["rule_id"], entry["system"]) == (RECORD_TEXT_INVALID, "S-X2", "svenn")
    assert entry["resolved_at"] is None
    assert "name" in entry["detail"] and "U+0000" in entry["detail"] and "Svenn" in entry["detail"]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM error_log WHERE tenant_id = $1 AND entity_id = 'sv-typo'", tenant_id
        )
        == 1
    )
    verdicts = await db.fetch(
        "SELECT rule_id, verdict FROM decision_log WHERE tenant_id = $1 AND entity_id = 'sv-typo'", tenant_id
    )
    assert {(v["rule_id"], v["verdict"]) for v in verdicts} == {("S-X2", Verdict.REJECT.value)}

    # No command carries the text, and no consumer dead-lettered anything about it.
    commands = await read_to_end(settings, TRIPLETEX_COMMANDS, of_tenant(tenant_id))
    assert [json.loads(c.value or b"")["source_entity_id"] for c in commands] == ["sv-later"]
    for consumer in (DECISION_CONSUMER, PROJECTIONS_CONSUMER):
        assert await read_to_end(settings, dead_letter_topic(consumer), of_tenant(tenant_id)) == []

    # Once the user corrects the name, the record syncs and the entry resolves (S-X1).
    fixed = project_change(tenant_id, "sv-typo", "3", name="Tak Nordre")
    await produce(settings, SVENN_CHANGES, key, [fixed.model_dump_json().encode()])
    await wait_for_rows(db, OUTCOME_OF, tenant_id, "sv-typo")
    await wait_for_rows(
        db,
        "SELECT 1 FROM error_log WHERE tenant_id = $1 AND error_code = $2 AND resolved_at IS NOT NULL",
        tenant_id,
        RECORD_TEXT_INVALID,
    )


def applied_outcome(tenant: str, entity_id: str, name: str = "Roof") -> Outcome:
    command = command_id(uuid.uuid4(), "tripletex", "create", "project", entity_id)
    return Outcome(
        tenant_id=tenant,
        correlation_id=uuid.uuid4(),
        outcome_id=outcome_id(command, "applied"),
        command_id=command,
        source=SourceSystem.SVENN,
        target=SourceSystem.TRIPLETEX,
        operation=Operation.CREATE,
        entity_type=EntityType.PROJECT,
        source_entity_id=entity_id,
        target_entity_id=f"tx-{entity_id}",
        status=OutcomeStatus.APPLIED,
        rule_id="S-P4",
        written=ProjectSnapshot(number=f"N-{entity_id}", name=name, start_date=START),
        target_version="3",
    )


async def test_outcomes_postgresql_refuses_are_dead_lettered_and_the_rest_of_the_batch_projected(
    runtime: Runtime, settings: Settings, tenant_id: str, db: asyncpg.Connection
) -> None:
    key = record_key(tenant_id, EntityType.PROJECT, "sv-outcomes")
    first, last = applied_outcome(tenant_id, "sv-first"), applied_outcome(tenant_id, "sv-last")
    # PostgreSQL refuses "\u0000" in jsonb (the link's synced content): a DataError.
    nul = applied_outcome(tenant_id, "sv-nul", name="Tak\x00")
    # A target version beyond bigint: asyncpg refused it itself before the bounds existed.
    too_big = json.loads(applied_outcome(tenant_id, "sv-big").model_dump_json())
    too_big["target_version"] = "99999999999999999999"
    values = [
        first.model_dump_json().encode(),
        nul.model_dump_json().encode(),
        json.dumps(too_big).encode(),
        last.model_dump_json().encode(),
    ]
    await produce(settings, SYNC_OUTCOMES, key, values)

    await wait_for_rows(db, OUTCOME_OF, tenant_id, "sv-last")
    rows = await db.fetch("SELECT source_entity_id FROM sync_outcome WHERE tenant_id = $1", tenant_id)
    assert sorted(r["source_entity_id"] for r in rows) == ["sv-first", "sv-last"]
    links = await db.fetch(
        "SELECT entity_id FROM link WHERE tenant_id = $1 AND system = 'svenn' ORDER BY entity_id", tenant_id
    )
    assert [r["entity_id"] for r in links] == ["sv-first", "sv-last"]

    dead = await read_topic(
        settings, dead_letter_topic(PROJECTIONS_CONSUMER), lambda r: r.key == key, count=2
    )
    by_value = {d.value: dict(d.headers) for d in dead}
    assert by_value[values[1]][headers.DLQ_STAGE] == b"project"
    assert b"UntranslatableCharacter" in by_value[values[1]][headers.DLQ_REASON]
    assert by_value[values[2]][headers.DLQ_STAGE] == b"decode"
    assert b"target_version" in by_value[values[2]][headers.DLQ_REASON]


async def test_the_projections_position_moves_past_messages_it_dead_letters(
    runtime: Runtime, settings: Settings, tenant_id: str, db: asyncpg.Connection
) -> None:
    """A partition whose last messages are dead letters is still caught up: the tracking row says
    everything up to its end was handled (a rebuild and "is the projection behind?" rely on it)."""
    key = record_key(tenant_id, EntityType.PROJECT, "sv-position")
    good = applied_outcome(tenant_id, "sv-position").model_dump_json().encode()
    nul = applied_outcome(tenant_id, "sv-position-nul", name="Tak\x00").model_dump_json().encode()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(settings.topic(SYNC_OUTCOMES), v, key=key) for v in (good, b"{not json", nul)
        ]
        placed = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    last = placed[-1]
    await read_topic(settings, dead_letter_topic(PROJECTIONS_CONSUMER), lambda r: r.key == key, count=2)
    for _ in range(300):
        position = await db.fetchval(
            "SELECT next_offset FROM projection_position WHERE projection = 'projections'"
            " AND topic = $1 AND partition = $2",
            settings.topic(SYNC_OUTCOMES),
            last.partition,
        )
        if position is not None and position > last.offset:
            break
        await asyncio.sleep(0.1)
    assert position is not None and position > last.offset, (position, last.offset)
