"""Link table and error log (S-X1), built from the topics on real Kafka and PostgreSQL, and read
back by the decision: a linked record is updated, a broken link (S-C5) stops syncing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest

from contracts.entities import CustomerSnapshot, EntitySnapshot, ProjectSnapshot
from contracts.envelope import (
    ChangeEvent,
    ChangeKind,
    Command,
    DecisionRecord,
    EntityType,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
    Verdict,
)
from contracts.ids import change_event_id, outcome_id
from contracts.topics import SVENN_COMMANDS, SYNC_DECISIONS, SYNC_OUTCOMES, record_key, record_key_of
from services.core.settings import Settings
from services.operator_actions import restore_link
from services.runtime import Runtime
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration

SVENN, TRIPLETEX = SourceSystem.SVENN, SourceSystem.TRIPLETEX


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    yield connection
    await connection.close()


def change(
    tenant: str,
    source: SourceSystem,
    entity_type: EntityType,
    entity_id: str,
    kind: ChangeKind,
    snapshot: EntitySnapshot | None,
    version: str,
) -> ChangeEvent:
    return ChangeEvent(
        tenant_id=tenant,
        correlation_id=uuid.uuid4(),
        event_id=change_event_id(tenant, source, entity_type, entity_id, version),
        source=source,
        entity_type=entity_type,
        entity_id=entity_id,
        change_kind=kind,
        occurred_at=datetime.now(UTC),
        source_version=version,
        snapshot=snapshot,
    )


async def poll(db: asyncpg.Connection, query: str, *args: object, until: object) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = []
    for _ in range(200):
        rows = await db.fetch(query, *args)
        if until(rows):  # type: ignore[operator]
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query} {args} never satisfied the condition; last rows: {rows}")


async def applied_link(
    runtime: Runtime,
    tenant: str,
    entity_type: EntityType,
    svenn_id: str,
    tx_id: str,
    written: EntitySnapshot | None = None,
) -> None:
    """What a writer reports after matching or creating the record on Tripletex."""
    command = uuid.uuid4()
    outcome = Outcome(
        tenant_id=tenant,
        correlation_id=uuid.uuid4(),
        outcome_id=outcome_id(command, "applied"),
        command_id=command,
        source=SVENN,
        target=TRIPLETEX,
        operation=Operation.CREATE,
        entity_type=entity_type,
        source_entity_id=svenn_id,
        target_entity_id=tx_id,
        status=OutcomeStatus.APPLIED,
        rule_id="S-P4",
        written=written,
    )
    await (await runtime.publisher.send(SYNC_OUTCOMES, record_key(tenant, entity_type, svenn_id), outcome))


OPEN_ERRORS = "SELECT * FROM error_log WHERE tenant_id = $1 AND error_code = 'PROJECT_MISSING_START_DATE'"
DECIDED = "SELECT * FROM sync_outcome WHERE tenant_id = $1 ORDER BY recorded_at"


async def test_S_X1_error_log_opens_counts_and_resolves_itself(
    client: httpx.AsyncClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    no_start = ProjectSnapshot(number="77", name="Shed")
    for version in ("1", "2"):
        event = change(tenant_id, SVENN, EntityType.PROJECT, "sv-77", ChangeKind.UPDATED, no_start, version)
        assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    (entry,) = await poll(db, OPEN_ERRORS, tenant_id, until=lambda r: r and r[0]["occurrences"] == 2)
    assert (entry["system"], entry["entity_type"], entry["entity_id"]) == ("svenn", "project", "sv-77")
    assert (entry["error_code"], entry["rule_id"], entry["resolved_at"]) == (
        "PROJECT_MISSING_START_DATE",
        "S-P1",
        None,
    )

    fixed = no_start.model_copy(update={"start_date": date(2026, 12, 1)})
    event = change(tenant_id, SVENN, EntityType.PROJECT, "sv-77", ChangeKind.UPDATED, fixed, "3")
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    (entry,) = await poll(db, OPEN_ERRORS, tenant_id, until=lambda r: r and r[0]["resolved_at"] is not None)
    assert entry["occurrences"] == 2


async def test_S_P4_linked_project_is_updated_not_created(
    runtime: Runtime, client: httpx.AsyncClient, db: asyncpg.Connection, tenant_id: str
) -> None:
    await applied_link(runtime, tenant_id, EntityType.PROJECT, "sv-5", "tx-9005")
    await poll(
        db, "SELECT * FROM link WHERE tenant_id = $1", tenant_id, until=lambda r: len(r) == 2
    )  # one row per direction
    snapshot = ProjectSnapshot(number="5", name="Roof", start_date=date(2026, 1, 1))
    event = change(tenant_id, SVENN, EntityType.PROJECT, "sv-5", ChangeKind.UPDATED, snapshot, "2")
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    rows = await poll(db, DECIDED, tenant_id, until=lambda r: len(r) == 2)
    update = rows[-1]
    assert (update["operation"], update["rule_id"], update["target_entity_id"]) == (
        "update",
        "S-P4",
        "tx-9005",
    )


async def test_S_C5_customer_deleted_in_svenn_breaks_the_link_and_stops_the_sync(
    runtime: Runtime, client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, tenant_id: str
) -> None:
    await applied_link(runtime, tenant_id, EntityType.CUSTOMER, "sv-c1", "tx-c1")
    await poll(db, "SELECT * FROM link WHERE tenant_id = $1", tenant_id, until=lambda r: len(r) == 2)
    deleted = change(tenant_id, SVENN, EntityType.CUSTOMER, "sv-c1", ChangeKind.DELETED, None, "9")
    assert (await client.post("/v1/changes", content=deleted.model_dump_json())).status_code == 202
    await poll(
        db,
        "SELECT state FROM link WHERE tenant_id = $1",
        tenant_id,
        until=lambda r: [x["state"] for x in r] == ["broken", "broken"],
    )
    # A later Tripletex change to that customer is no longer synced: no command, so no new outcome.
    renamed = CustomerSnapshot(customer_number="100", name="Renamed in Tripletex")
    later = change(tenant_id, TRIPLETEX, EntityType.CUSTOMER, "tx-c1", ChangeKind.UPDATED, renamed, "10")
    marker = change(
        tenant_id,
        TRIPLETEX,
        EntityType.CUSTOMER,
        "tx-c2",
        ChangeKind.CREATED,
        CustomerSnapshot(customer_number="101", name="Other"),
        "1",
    )
    for event in (later, marker):
        assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    key = record_key(tenant_id, EntityType.CUSTOMER, "tx-c1")
    (record,) = await read_topic(settings, SYNC_DECISIONS, lambda r: record_key_of(r.key) == key, count=1)
    decision = DecisionRecord.model_validate_json(record.value or b"")
    assert (decision.rule_id, decision.verdict, decision.command_ids) == ("S-C5", Verdict.SKIP, ())
    rows = await poll(
        db, DECIDED, tenant_id, until=lambda r: any(x["source_entity_id"] == "tx-c2" for x in r)
    )
    assert [r["source_entity_id"] for r in rows] == ["sv-c1", "tx-c2"]


async def test_operator_restores_a_link_broken_by_S_C5(
    runtime: Runtime, client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, tenant_id: str
) -> None:
    await applied_link(runtime, tenant_id, EntityType.CUSTOMER, "sv-c9", "tx-c9")
    await poll(db, "SELECT * FROM link WHERE tenant_id = $1", tenant_id, until=lambda r: len(r) == 2)
    deleted = change(tenant_id, SVENN, EntityType.CUSTOMER, "sv-c9", ChangeKind.DELETED, None, "2")
    assert (await client.post("/v1/changes", content=deleted.model_dump_json())).status_code == 202
    states = "SELECT state FROM link WHERE tenant_id = $1"
    await poll(db, states, tenant_id, until=lambda r: [x["state"] for x in r] == ["broken", "broken"])

    await restore_link(settings, tenant_id, EntityType.CUSTOMER, TRIPLETEX, "tx-c9")
    await poll(db, states, tenant_id, until=lambda r: [x["state"] for x in r] == ["linked", "linked"])
    renamed = CustomerSnapshot(customer_number="109", name="Synced again")
    later = change(tenant_id, TRIPLETEX, EntityType.CUSTOMER, "tx-c9", ChangeKind.UPDATED, renamed, "3")
    assert (await client.post("/v1/changes", content=later.model_dump_json())).status_code == 202
    rows = await poll(
        db, DECIDED, tenant_id, until=lambda r: any(x["source_entity_id"] == "tx-c9" for x in r)
    )
    assert (rows[-1]["operation"], rows[-1]["target_entity_id"]) == ("update", "sv-c9")


async def test_echo_of_the_engines_write_is_not_synced_back_and_real_changes_are_field_level(
    runtime: Runtime, client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, tenant_id: str
) -> None:
    written = CustomerSnapshot(customer_number="300", name="Fjord AS", email="post@fjord.no")
    await applied_link(runtime, tenant_id, EntityType.CUSTOMER, "sv-c3", "tx-c3", written=written)
    await poll(
        db,
        "SELECT synced_snapshot FROM link WHERE tenant_id = $1",
        tenant_id,
        until=lambda r: len(r) == 2 and all(x["synced_snapshot"] for x in r),
    )
    # Tripletex reports back what the engine wrote (plus fields Svenn does not have): an echo.
    echo = written.model_copy(update={"invoice_send_method": "EMAIL"})
    event = change(tenant_id, TRIPLETEX, EntityType.CUSTOMER, "tx-c3", ChangeKind.UPDATED, echo, "5")
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    key = record_key(tenant_id, EntityType.CUSTOMER, "tx-c3")
    (record,) = await read_topic(settings, SYNC_DECISIONS, lambda r: record_key_of(r.key) == key, count=1)
    decision = DecisionRecord.model_validate_json(record.value or b"")
    assert (decision.verdict, decision.command_ids) == (Verdict.SKIP, ())
    assert "echo" in decision.reason

    moved = echo.model_copy(update={"email": "faktura@fjord.no"})
    event = change(tenant_id, TRIPLETEX, EntityType.CUSTOMER, "tx-c3", ChangeKind.UPDATED, moved, "6")
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    commands = await read_topic(settings, SVENN_COMMANDS, lambda r: r.key == key, count=1)
    command = Command.model_validate_json(commands[0].value or b"")
    assert (command.operation, command.changed_fields, command.expected_link.target_entity_id) == (
        Operation.UPDATE,
        ("email",),
        "sv-c3",
    )
