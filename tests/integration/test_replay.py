"""Replay tools on the running engine (issue 6): projections rebuilt from the topics equal the live
ones; dead letters listed, shown and replayed once; a re-sync of one tenant corrects exactly its
drift and nothing else. One ``Sandbox`` for the module (both simulators, the whole engine, real
Kafka and PostgreSQL); each test makes the tenants it needs."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr
from rich.console import Console
from typer.testing import CliRunner

from contracts import headers
from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import (
    DECISION_CONSUMER,
    SVENN_CHANGES,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    TRIPLETEX_CHANGES,
    record_key,
)
from projections.consumer import PROJECTION
from projections.rebuild import TABLES, rebuild
from services.cli import app
from services.core.dead_letters import DeadLetters
from services.core.settings import Settings
from services.replay.commands import render_resync
from services.replay.dead_letter_admin import REPLAYED_FROM, DeadLetter, read_dead_letters, replay
from services.replay.resync import Action, resync
from services.replay.topic_range import TopicRangeReader
from services.sandbox import Sandbox, SandboxTenant

pytestmark = pytest.mark.integration

WAIT = 20.0
START = "2026-03-02"
ORDER = {
    "sync_outcome": "outcome_id",
    "sync_status": "entity_type, target",
    "link": "entity_type, system, entity_id",
    "error_log": "system, entity_type, entity_id, error_code",
    "decision_log": "decision_id",
}
# Columns a rebuild numbers anew (see projections/rebuild.py).
RENUMBERED = {"seq"}


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    # No catch-up polling: drift made with the webhooks off must stay until the re-sync finds it.
    async with Sandbox(settings.model_copy(update={"catch_up": False}), tenant_prefix="replay") as running:
        yield running


async def projected(database_url: str, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
    connection = await asyncpg.connect(database_url)
    try:
        return {
            table: [
                {k: v for k, v in r.items() if k not in RENUMBERED}
                for r in await connection.fetch(
                    f"SELECT * FROM {table} WHERE tenant_id = $1 ORDER BY {ORDER[table]}", tenant_id
                )
            ]
            for table in TABLES
        }
    finally:
        await connection.close()


async def projections_caught_up(settings: Settings) -> bool:
    """The live projection has applied everything on its topics (positions at the topics' ends)."""
    async with TopicRangeReader(settings) as reader:
        ends = await reader.end_offsets(
            await reader.partitions(settings.topic(t) for t in (SYNC_OUTCOMES, SYNC_DECISIONS))
        )
    connection = await asyncpg.connect(settings.database_url)
    try:
        rows = await connection.fetch(
            "SELECT topic, partition, next_offset FROM projection_position WHERE projection = $1", PROJECTION
        )
    finally:
        await connection.close()
    at = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    return all(at.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items())


async def quiet(sandbox: Sandbox, *tenants: SandboxTenant) -> None:
    for t in tenants:
        await sandbox.settle(t.tenant_id, quiet=1.0)
    await sandbox.wait_until(lambda: projections_caught_up(sandbox.settings), WAIT)


async def link_of(sandbox: Sandbox, t: SandboxTenant, system: str, entity_id: str) -> Any:
    rows = await sandbox.links(t.tenant_id)
    return next((r for r in rows if r["system"] == system and r["entity_id"] == entity_id), None)


async def busy_tenant(sandbox: Sandbox) -> SandboxTenant:
    """A tenant with links, an error opened and resolved (S-P1), and a link broken (S-C5)."""
    t = await sandbox.add_tenant()
    await t.svenn.projects.create({"display_id": "2026.1", "name": "Synket", "start_date": START})
    late = await t.svenn.projects.create({"display_id": "2026.2", "name": "Uten startdato"})
    customer = await t.svenn.customers.create({"customer_number": "50001", "name": "Slettes AS"})
    await sandbox.wait_until(lambda: t.tripletex_project("2026.1"), WAIT)
    await sandbox.wait_until(lambda: link_of(sandbox, t, "svenn", customer.id), WAIT)
    await sandbox.wait_until(lambda: sandbox.errors(t.tenant_id, open_only=True), WAIT)
    await t.svenn.projects.update(late.id, {"start_date": START})
    await t.svenn.customers.delete(customer.id)

    async def broken_and_resolved() -> bool:
        link = await link_of(sandbox, t, "svenn", customer.id)
        return bool(link and link["state"] == "broken") and not await sandbox.errors(
            t.tenant_id, open_only=True
        )

    await sandbox.wait_until(broken_and_resolved, WAIT)
    return t


# --------------------------------------------------------------------------- projections rebuild
async def test_rebuild_of_one_tenant_equals_the_live_projections_and_leaves_others_alone(
    sandbox: Sandbox, settings: Settings
) -> None:
    a = await busy_tenant(sandbox)
    b = await sandbox.add_tenant()
    await b.svenn.projects.create({"display_id": "2026.9", "name": "Annen kunde", "start_date": START})
    await sandbox.wait_until(lambda: b.tripletex_project("2026.9"), WAIT)
    await quiet(sandbox, a, b)
    live_a = await projected(settings.database_url, a.tenant_id)
    live_b = await projected(settings.database_url, b.tenant_id)
    assert all(live_a[t] for t in TABLES), live_a  # every table has something to rebuild
    assert any(r["state"] == "broken" for r in live_a["link"])
    assert any(r["resolved_at"] is not None for r in live_a["error_log"])

    # Damage tenant A's projections the way a bug or a lost table would.
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute("DELETE FROM link WHERE tenant_id = $1", a.tenant_id)
        await connection.execute("DELETE FROM error_log WHERE tenant_id = $1", a.tenant_id)
        await connection.execute("DELETE FROM decision_log WHERE tenant_id = $1", a.tenant_id)
        await connection.execute("UPDATE sync_status SET applied = 999 WHERE tenant_id = $1", a.tenant_id)
        await connection.execute(
            "DELETE FROM sync_outcome WHERE outcome_id = $1", live_a["sync_outcome"][0]["outcome_id"]
        )
    finally:
        await connection.close()
    assert await projected(settings.database_url, a.tenant_id) != live_a

    report = await rebuild(settings, a.tenant_id)

    rebuilt = await projected(settings.database_url, a.tenant_id)
    # The outcome row deleted above is stored anew: only when it was recorded differs.
    assert rebuilt["sync_outcome"][0].pop("recorded_at") > live_a["sync_outcome"][0]["recorded_at"]
    live_a["sync_outcome"][0].pop("recorded_at")
    assert rebuilt == live_a
    assert await projected(settings.database_url, b.tenant_id) == live_b
    assert report.skipped == []
    assert report.rows == {t: len(live_a[t]) for t in TABLES}
    assert report.applied > len(live_a["sync_outcome"])  # its outcomes and its decisions
    # Twice in a row is the same again (the rebuild is a function of the topics); from the CLI.
    output = await tsync(settings, "projections", "rebuild", "--tenant", a.tenant_id)
    assert f"Projections rebuilt (tenant {a.tenant_id})" in output and "skipped 0" in output
    again = await projected(settings.database_url, a.tenant_id)
    again["sync_outcome"][0].pop("recorded_at")
    assert again == live_a

    # The live projection carries on from where it was: the next change is applied once.
    await t_synced(sandbox, a, "2026.3", "Etterpå")
    await quiet(sandbox, a)
    after = await projected(settings.database_url, a.tenant_id)
    assert len(after["sync_outcome"]) == len(live_a["sync_outcome"]) + 1
    applied = {(r["entity_type"], r["target"]): r["applied"] for r in after["sync_status"]}
    before = {(r["entity_type"], r["target"]): r["applied"] for r in live_a["sync_status"]}
    assert applied[("project", "tripletex")] == before[("project", "tripletex")] + 1


async def test_full_rebuild_into_an_empty_database_reproduces_every_tenant(
    sandbox: Sandbox, settings: Settings
) -> None:
    a = await busy_tenant(sandbox)
    await quiet(sandbox, a)
    live = await projected(settings.database_url, a.tenant_id)
    name = f"rebuild_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        empty = settings.model_copy(
            update={"database_url": settings.database_url.rsplit("/", 1)[0] + f"/{name}"}
        )
        report = await rebuild(empty)
        rebuilt = await projected(empty.database_url, a.tenant_id)
        # A lost database has no record of when rows were first stored; everything else is equal.
        for row in [*live["sync_outcome"], *rebuilt["sync_outcome"]]:
            row.pop("recorded_at")
        assert rebuilt == live
        assert report.read > 0 and report.rows["link"] >= len(live["link"])
        assert await projections_caught_up(empty)  # positions set to where the topics end
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


# --------------------------------------------------------------------------- dead letters
async def read_all(settings: Settings, topic: str) -> list[ConsumerRecord]:
    """Everything on a topic right now (up to its end offsets)."""
    async with TopicRangeReader(settings) as reader:
        ends = await reader.end_offsets(await reader.partitions([settings.topic(topic)]))
        return [r async for batch in reader.read({tp: (0, e) for tp, e in ends.items()}) for r in batch]


async def tsync(settings: Settings, *args: str, **extra_env: str) -> str:
    """``tsync`` as an operator runs it, against this test's Kafka, database and topic prefix."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "TOPIC_PREFIX": settings.topic_prefix,
        "COLUMNS": "250",
        **extra_env,
    }
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def tenant_letters(settings: Settings, tenant_id: str) -> list[DeadLetter]:
    return [d for d in await read_dead_letters(settings, [DECISION_CONSUMER]) if d.tenant_id == tenant_id]


async def test_dead_letters_are_listed_with_their_reason_and_each_is_replayed_once(
    sandbox: Sandbox, settings: Settings
) -> None:
    t = await sandbox.add_tenant()
    # A malformed change: the decision consumer cannot decode it.
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        bad_key = record_key(t.tenant_id, "project", "garbage-1")
        await producer.send_and_wait(settings.topic(SVENN_CHANGES), b'{"garbage": true}', key=bad_key)
    finally:
        await producer.stop()
    # A good change whose handling failed (a bug fixed since), dead-lettered as the consumer does it.
    event = ChangeEvent(
        tenant_id=t.tenant_id,
        correlation_id=uuid.uuid4(),
        event_id=change_event_id(t.tenant_id, "svenn", "project", "svenn-dlq-1", "1"),
        source=SourceSystem.SVENN,
        entity_type=EntityType.PROJECT,
        entity_id="svenn-dlq-1",
        change_kind=ChangeKind.CREATED,
        occurred_at=datetime.now(UTC),
        source_version="1",
        snapshot=ProjectSnapshot(number="2026.77", name="Fra DLQ", start_date=date(2026, 3, 2)),
    )
    key = record_key(t.tenant_id, EntityType.PROJECT, "svenn-dlq-1")
    value = event.model_dump_json().encode()
    failed = ConsumerRecord(
        settings.topic(SVENN_CHANGES), 0, 987654, 0, 0, key, value, None, len(key), len(value),
        [(headers.MESSAGE_ID, str(event.event_id).encode()), (headers.TENANT, t.tenant_id.encode())],
    )  # fmt: skip
    await DeadLetters(sandbox.runtime.broker, settings, DECISION_CONSUMER).send(
        failed, "decide", "RuntimeError: a bug, fixed since", RuntimeError("a bug, fixed since")
    )

    letters = await sandbox.wait_until(lambda: _at_least(tenant_letters(settings, t.tenant_id), 2), WAIT)
    (bad,) = [d for d in letters if d.key == bad_key]
    (good,) = [d for d in letters if d.key == key]
    assert (bad.stage, bad.source_topic) == ("decode", settings.topic(SVENN_CHANGES))
    assert "invalid" in bad.reason.lower() and "Field required" in bad.reason
    assert (good.stage, good.reason) == ("decide", "RuntimeError: a bug, fixed since")
    assert good.source == f"{settings.topic(SVENN_CHANGES)}:0:987654"
    listed = await tsync(settings, "dlq", "list", "--consumer", DECISION_CONSUMER, "--tenant", t.tenant_id)
    assert (
        good.id in listed
        and bad.id in listed
        and "a bug, fixed since" in listed
        and "Field required" in listed
    )
    shown = await tsync(settings, "dlq", "show", DECISION_CONSUMER, good.id)
    assert "RuntimeError" in shown and "2026.77" in shown and settings.topic(SVENN_CHANGES) in shown

    await tsync(settings, "dlq", "replay", DECISION_CONSUMER, "--id", good.id)
    await sandbox.wait_until(lambda: t.tripletex_project("2026.77"), WAIT)
    again = await replay(settings, DECISION_CONSUMER, [good.id])
    assert again.published == [] and [d.id for d in again.already] == [good.id]
    origin = f"{good.topic}:{good.partition}:{good.offset}".encode()
    copies = [
        r for r in await read_all(settings, SVENN_CHANGES) if dict(r.headers).get(REPLAYED_FROM) == origin
    ]
    assert len(copies) == 1 and copies[0].value == value and copies[0].key == key
    assert dict(copies[0].headers)[headers.MESSAGE_ID] == str(event.event_id).encode()  # original headers
    (listed_good,) = [d for d in await tenant_letters(settings, t.tenant_id) if d.id == good.id]
    assert listed_good.replayed_to == f"{copies[0].topic}:{copies[0].partition}:{copies[0].offset}"

    # Replaying what is still malformed: it fails again and comes back as a new dead letter saying so.
    await replay(settings, DECISION_CONSUMER, [bad.id])
    bad_origin = f"{bad.topic}:{bad.partition}:{bad.offset}"
    await sandbox.wait_until(
        lambda: _any(tenant_letters(settings, t.tenant_id), lambda d: d.header(REPLAYED_FROM) == bad_origin),
        WAIT,
    )
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert len(await t.tripletex_list("/project", number="2026.77")) == 1


async def _at_least(letters: Any, n: int) -> list[DeadLetter] | None:
    found: list[DeadLetter] = await letters
    return found if len(found) >= n else None


async def _any(letters: Any, predicate: Any) -> bool:
    return any(predicate(d) for d in await letters)


# --------------------------------------------------------------------------- re-sync
async def disconnect_webhooks(t: SandboxTenant) -> None:
    """Both sides stop telling the engine anything: what changes now is drift."""
    for hook in await t.svenn.webhooks.list():
        await t.svenn.webhooks.delete(hook.id)
    for subscription in await t.tripletex_list("/event/subscription"):
        await t.tripletex_api("DELETE", f"/event/subscription/{subscription['id']}")


async def changes_published(settings: Settings, tenant_id: str) -> int:
    prefix = f"{tenant_id}|".encode()
    records = [*await read_all(settings, SVENN_CHANGES), *await read_all(settings, TRIPLETEX_CHANGES)]
    return sum(1 for r in records if (r.key or b"").startswith(prefix))


async def svenn_projects(t: SandboxTenant, number: str) -> list[Any]:
    return [p for p in await t.svenn.projects.find_by_display_id(number) if p.parent_id is None]


async def test_resync_corrects_exactly_the_drift_of_one_tenant_and_then_finds_none(
    sandbox: Sandbox, settings: Settings, tmp_path: Path
) -> None:
    a, b = await sandbox.add_tenant(), await sandbox.add_tenant()
    renamed, _ = (
        await t_synced(sandbox, a, "2026.11", "Før"),
        await t_synced(sandbox, a, "2026.12", "Uten lenke"),
    )
    customer = (await a.tripletex_api("POST", "/customer", {"name": "Stabil AS", "customerNumber": 60001}))[
        "value"
    ]
    await sandbox.wait_until(lambda: a.svenn.customers.find_by_number("60001"), WAIT)
    await t_synced(sandbox, b, "2026.19", "Annen kunde")
    await quiet(sandbox, a, b)

    # Drift on A only: webhooks off, then a rename in Tripletex, a new Svenn project, a lost link.
    await disconnect_webhooks(a)
    current = (await a.tripletex_api("GET", f"/project/{renamed}"))["value"]
    await a.tripletex_api("PUT", f"/project/{renamed}", {"version": current["version"], "name": "Etter"})
    created = await a.svenn.projects.create(
        {"display_id": "2026.13", "name": "Ny i Svenn", "start_date": START}
    )
    unlinked = (await svenn_projects(a, "2026.12"))[0]
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(
            "DELETE FROM link WHERE tenant_id = $1 AND entity_type = 'project'"
            " AND ((system = 'svenn' AND entity_id = $2) OR (other_system = 'svenn' AND other_id = $2))",
            a.tenant_id,
            unlinked.id,
        )
    finally:
        await connection.close()
    config_a = await sandbox.tenants.get(a.tenant_id)
    writes_a, writes_b = sandbox.engine_writes(a.tenant_id), sandbox.engine_writes(b.tenant_id)
    links_b, published_a = await sandbox.links(b.tenant_id), await changes_published(settings, a.tenant_id)

    dry = await resync(settings, config_a, dry_run=True)

    tripletex_unlinked = str((await a.tripletex_project("2026.12") or {})["id"])
    found = sorted(
        (i.action, i.side.value, i.entity_id) for i in dry.corrections if i.action is not Action.LINK
    )
    assert found == sorted(
        [
            (Action.UPDATE, "tripletex", str(renamed)),
            (Action.CREATE, "svenn", created.id),
            # The company's API user was in Tripletex before the tenant was connected, and no
            # initial sync ran: the rules (S-E2) would have sent it to Svenn, so it is drift too.
            (Action.CREATE, "tripletex", str(a.api_employee_id)),
        ]
    ), [(i.action, i.side, i.entity_id, i.rule_id, i.reason, i.key) for i in dry.items]
    (update,) = [i for i in dry.corrections if i.action is Action.UPDATE]
    assert update.fields == ("name",) and update.rule_id.startswith("S-P")
    # The pair whose link was lost is linked again from one side (which one the rules choose).
    (link,) = [i for i in dry.corrections if i.action is Action.LINK]
    assert {link.entity_id, link.other_id} == {unlinked.id, tripletex_unlinked}
    assert dry.counts()[(EntityType.CUSTOMER, Action.IN_SYNC)] == 2 and str(customer["id"])
    assert dry.published == 0
    printed = Console(record=True, width=250, file=io.StringIO())
    printed.print(render_resync(dry))
    text = printed.export_text()
    assert (
        "dry run: nothing was published" in text and "differs: name" in text and "4 corrections found" in text
    )
    await sandbox.settle(a.tenant_id, quiet=1.0)
    assert await changes_published(settings, a.tenant_id) == published_a  # the dry run published nothing
    assert sandbox.engine_writes(a.tenant_id) == writes_a

    # --since: Svenn records carry a change time (none changed after this), Tripletex customers
    # are listed changedSince; Tripletex projects and employees carry none and are always compared.
    later = await resync(settings, config_a, dry_run=True, since=datetime.now(UTC))
    assert sorted((i.action, i.entity_id) for i in later.corrections) == sorted(
        [(Action.UPDATE, str(renamed)), (Action.CREATE, str(a.api_employee_id))]
    )

    done = await resync(settings, config_a)
    assert done.published == 4

    async def corrected() -> bool:
        svenn_renamed = await svenn_projects(a, "2026.11")
        link_back = await link_of(sandbox, a, "svenn", unlinked.id)
        return bool(
            svenn_renamed
            and svenn_renamed[0].name == "Etter"
            and link_back is not None
            and await a.tripletex_project("2026.13")
            and await a.svenn.employees.find_by_number("1")
        )

    await sandbox.wait_until(corrected, WAIT)
    await quiet(sandbox, a, b)
    assert len(await a.tripletex_list("/project", number="2026.12")) == 1
    assert len(await svenn_projects(a, "2026.12")) == 1
    assert len(await a.tripletex_list("/project", number="2026.13")) == 1

    again = await resync(settings, config_a)
    assert again.corrections == [] and again.published == 0
    # The same from the command line, with the tenant from a tenants file.
    tenants_file = tmp_path / "tenants.json"
    tenants_file.write_text(json.dumps([_plain(config_a.model_dump())]))
    output = await tsync(
        settings, "resync", "--tenant", a.tenant_id, "--dry-run", TENANTS_FILE=str(tenants_file)
    )
    assert "0 corrections found; records listed: svenn 5, tripletex 5" in output
    # The other tenant: no write, no link touched.
    assert sandbox.engine_writes(b.tenant_id) == writes_b
    assert await sandbox.links(b.tenant_id) == links_b


def _plain(value: Any) -> Any:
    """A tenant's config as TENANTS_FILE holds it (secrets in clear)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


async def t_synced(sandbox: Sandbox, t: SandboxTenant, number: str, name: str) -> int:
    """A Svenn project synced to Tripletex; its Tripletex id."""
    await t.svenn.projects.create({"display_id": number, "name": name, "start_date": START})
    found = await sandbox.wait_until(lambda: t.tripletex_project(number), WAIT)
    return int(found["id"])


async def test_S_X2_resync_of_a_record_with_a_nul_in_its_key_reports_it_instead_of_failing(
    sandbox: Sandbox, settings: Settings
) -> None:
    """Svenn accepts a NUL in an e-mail address, the key employees are matched by: the resync
    must not send it to PostgreSQL (the load would fail) but report the record as S-X2 does."""
    t = await sandbox.add_tenant()
    await disconnect_webhooks(t)
    typo = await t.svenn.employees.create(
        {"first_name": "Ola", "last_name": "Nordmann", "email": "ola\x00@firma.no"}
    )
    dry = await resync(settings, await sandbox.tenants.get(t.tenant_id), dry_run=True)
    (item,) = [i for i in dry.items if i.entity_id == typo.id]
    assert (item.action, item.rule_id) == (Action.REJECT, "S-X2")
    assert "U+0000" in item.reason and dry.published == 0
