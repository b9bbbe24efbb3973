"""Redelivery from an old offset (issue 16, "Redelivery and locks"): after a two-way sync of a few
records, the decision's, the writers' and the projections' consumer groups are reset to the
beginning of their topics while the engine is stopped, and the engine is started again. It reads
everything a second time and must change no table (projections and the decision's state) and
write nothing to Svenn or Tripletex. Real Kafka and PostgreSQL, both simulators over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from contracts.topics import CONSUMERS, TRIPLETEX_COMMANDS
from services.core import kafka_security
from services.core.settings import Settings
from services.replay.topic_range import TopicRangeReader
from services.runtime import Role, Runtime
from services.sandbox import Sandbox, SandboxTenant
from tests.integration.test_replay import projections_caught_up, read_all

pytestmark = pytest.mark.integration

WAIT = 30.0
START = "2026-03-02"
CONSUMER_ROLES = (Role.DECISION, Role.TRIPLETEX_WRITER, Role.SVENN_WRITER, Role.PROJECTIONS)


@pytest.fixture
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    # No catch-up polling: every message the engine reads again was put on its topics by the sync.
    async with Sandbox(settings.model_copy(update={"catch_up": False}), tenant_prefix="redeliver") as running:
        yield running


async def tenant_tables(database_url: str, tenant_id: str) -> dict[str, list[str]]:
    """Every row of the tenant in every table that has a tenant (the projections' and the
    decision's: write intents, versions seen, deletions). Not the projection's read positions
    (``projection_position``): they follow the topics' ends, and the writers and the decision
    publish their answers to what they read again once more (the same ids, recognised there)."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = [
            r["table_name"]
            for r in await connection.fetch(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name"
            )
        ]
        found = {
            table: sorted(
                repr(dict(r))
                for r in await connection.fetch(f'SELECT * FROM "{table}" WHERE tenant_id = $1', tenant_id)
            )
            for table in tables
        }
        return found
    finally:
        await connection.close()


async def partitions_of(settings: Settings, names: list[str]) -> list[TopicPartition]:
    async with TopicRangeReader(settings) as reader:
        found = await reader.partitions(names)
    assert len(found) == len(names) * settings.topic_partitions
    return found


@asynccontextmanager
async def group_member(
    settings: Settings, consumer: str, names: list[str]
) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A client of the consumer's group (not subscribed: it joins no rebalance) and its partitions."""
    client = kafka_security.consumer(
        settings, group_id=settings.topic_prefix + consumer, enable_auto_commit=False
    )
    await client.start()
    try:
        yield client, await partitions_of(settings, names)
    finally:
        await client.stop()


async def group_offsets(settings: Settings, topics: dict[str, list[str]]) -> dict[str, dict[Any, int]]:
    """Each consumer group's committed offsets per partition (0 where none)."""
    offsets: dict[str, dict[Any, int]] = {}
    for consumer, names in topics.items():
        async with group_member(settings, consumer, names) as (client, partitions):
            offsets[consumer] = {tp: (await client.committed(tp)) or 0 for tp in partitions}
    return offsets


async def reset_to_beginning(settings: Settings, topics: dict[str, list[str]]) -> None:
    """``kafka-consumer-groups --reset-offsets --to-earliest`` for each (stopped) group."""
    for consumer, names in topics.items():
        async with group_member(settings, consumer, names) as (client, partitions):
            client.assign(partitions)
            await client.seek_to_beginning(*partitions)
            await client.commit({tp: OffsetAndMetadata(await client.position(tp), "") for tp in partitions})


async def end_offsets(settings: Settings, topics: dict[str, list[str]]) -> dict[Any, int]:
    async with TopicRangeReader(settings) as reader:
        partitions = await reader.partitions(t for names in topics.values() for t in names)
        return await reader.end_offsets(partitions)


async def svenn_project_name(t: SandboxTenant, number: str) -> str | None:
    found = [p for p in await t.svenn.projects.find_by_display_id(number) if p.parent_id is None]
    return found[0].name if found else None


async def renamed_in_svenn_then_in_tripletex(
    sandbox: Sandbox, t: SandboxTenant, svenn_id: str, number: str
) -> None:
    """Once Tripletex has the project: "Bad og kjøkken" in Svenn, synced, then "Kjøkken" in Tripletex."""
    await sandbox.wait_until(lambda: t.tripletex_project(number), WAIT)
    await t.svenn.projects.update(svenn_id, {"name": "Bad og kjøkken"})

    async def renamed_in_tripletex() -> dict[str, Any] | None:
        project = await t.tripletex_project(number)
        return project if project and project["name"] == "Bad og kjøkken" else None

    tt = await sandbox.wait_until(renamed_in_tripletex, WAIT)
    await t.tripletex_api("PUT", f"/project/{tt['id']}", {"version": tt["version"], "name": "Kjøkken"})


async def two_way_sync(sandbox: Sandbox, t: SandboxTenant) -> None:
    """A few records both ways: creates, renames on each side, a customer, a Tripletex project."""
    created = await t.svenn.projects.create({"display_id": "2026.1", "name": "Bad", "start_date": START})
    await t.svenn.customers.create({"customer_number": "50001", "name": "Kunde AS"})
    await t.new_tripletex_project("2026.2", "Fra Tripletex")
    # Rejected first (S-P1: no start date, an error-log entry), accepted once it has one.
    late = await t.svenn.projects.create({"display_id": "2026.3", "name": "Uten startdato"})
    await sandbox.wait_until(lambda: sandbox.errors(t.tenant_id, open_only=True), WAIT)
    await t.svenn.projects.update(late.id, {"start_date": START})
    # Renamed as soon as Tripletex has it, often before the link is projected: then the update
    # carries no base version, and only the writer's memory of what it has carried out keeps a
    # second reading of it from writing the old name over the user's later Tripletex edit.
    await renamed_in_svenn_then_in_tripletex(sandbox, t, created.id, "2026.1")

    async def synced() -> bool:
        return (
            await svenn_project_name(t, "2026.1") == "Kjøkken"
            and await svenn_project_name(t, "2026.2") == "Fra Tripletex"
            and await t.tripletex_customer(50001) is not None
            and await t.tripletex_project("2026.3") is not None
            and not await sandbox.errors(t.tenant_id, open_only=True)
        )

    await sandbox.wait_until(synced, WAIT)


async def caught_up(settings: Settings, topics: dict[str, list[str]]) -> bool:
    ends = await end_offsets(settings, topics)
    committed = await group_offsets(settings, topics)
    return all(at.get(tp, 0) >= ends[tp] for at in committed.values() for tp in at) and (
        await projections_caught_up(settings)
    )


async def test_reading_every_partition_again_from_the_beginning_changes_no_table_and_writes_nothing(
    sandbox: Sandbox,
) -> None:
    settings, t = sandbox.settings, sandbox.tenant
    await two_way_sync(sandbox, t)
    topics = sandbox.runtime.consumer_topics()
    assert sorted(topics) == sorted(CONSUMERS)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    await sandbox.wait_until(lambda: caught_up(settings, topics), WAIT)
    before = await tenant_tables(settings.database_url, t.tenant_id)
    assert all(before[table] for table in ("sync_outcome", "link", "decision_log", "write_intent"))
    writes = {side: sandbox.engine_writes(t.tenant_id, side) for side in ("svenn", "tripletex")}
    assert writes["svenn"] > 0 and writes["tripletex"] > 0

    # The engine's consumers stop (they leave their groups); the groups go back to offset 0.
    await sandbox.runtime.broker.stop()
    read = await group_offsets(settings, topics)
    assert all(sum(at.values()) > 0 for at in read.values())  # every group had read something
    await reset_to_beginning(settings, topics)
    assert all(set(at.values()) == {0} for at in (await group_offsets(settings, topics)).values())

    # Started again (the same roles, a new process as far as Kafka knows), it reads it all again.
    again = Runtime(settings, CONSUMER_ROLES, tenants=sandbox.tenants)
    await again.start()
    try:
        await sandbox.wait_until(lambda: caught_up(settings, topics), WAIT)
        await sandbox.settle(t.tenant_id, quiet=2.0)
        await sandbox.wait_until(lambda: caught_up(settings, topics), WAIT)
        reread = await group_offsets(settings, topics)
        assert all(reread[c][tp] >= read[c][tp] for c in read for tp in read[c])
    finally:
        await again.stop()

    after = await tenant_tables(settings.database_url, t.tenant_id)
    assert {side: sandbox.engine_writes(t.tenant_id, side) for side in writes} == writes
    for table in before:
        assert after[table] == before[table], table
    # The user's last edit (in Tripletex) still stands on both sides.
    assert await svenn_project_name(t, "2026.1") == "Kjøkken"
    assert (await t.tripletex_project("2026.1") or {}).get("name") == "Kjøkken"


async def test_an_update_read_again_after_a_later_tripletex_edit_does_not_write_the_old_value_back(
    sandbox: Sandbox,
) -> None:
    """An update decided while its project's create was in flight has no base (nothing was linked
    yet), so the Tripletex writer cannot tell a later Tripletex edit from old data. Read again
    after that edit was synced (the group reset above, a rebalance), it must not run again: the
    writer knows it carried it out (its outcome is projected)."""
    settings, t = sandbox.settings, sandbox.tenant
    created = await t.svenn.projects.create({"display_id": "2026.5", "name": "Bad", "start_date": START})
    await renamed_in_svenn_then_in_tripletex(sandbox, t, created.id, "2026.5")
    await sandbox.wait_until(lambda: _named(t, "2026.5", "Kjøkken"), WAIT)
    topics = sandbox.runtime.consumer_topics()
    await sandbox.settle(t.tenant_id, quiet=1.0)
    await sandbox.wait_until(lambda: caught_up(settings, topics), WAIT)
    writes = sandbox.engine_writes(t.tenant_id)

    # The rename's command as the writer read it, delivered again as one decided in flight.
    (old,) = [
        r
        for r in await read_all(settings, TRIPLETEX_COMMANDS)
        if r.key.startswith(f"{t.tenant_id}|".encode())
        and json.loads(r.value)["payload"]["name"] == "Bad og kjøkken"
    ]
    command = json.loads(old.value)
    command.update(base=None, base_version=None)
    producer = kafka_security.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            old.topic, json.dumps(command).encode(), key=old.key, headers=list(old.headers)
        )
    finally:
        await producer.stop()
    await sandbox.wait_until(lambda: caught_up(settings, topics), WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)

    assert sandbox.engine_writes(t.tenant_id) == writes
    assert (await t.tripletex_project("2026.5") or {}).get("name") == "Kjøkken"
    assert await svenn_project_name(t, "2026.5") == "Kjøkken"


async def _named(t: SandboxTenant, number: str, name: str) -> bool:
    return await svenn_project_name(t, number) == name
