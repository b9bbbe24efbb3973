"""S-X1 and issue 16 on real Kafka, PostgreSQL and both simulators over HTTP: a tenant whose side
does not answer is parked, never retried with everyone, and gets one ``API_UNREACHABLE`` entry.

Tenant A's Tripletex answers 503 to every request while tenant B creates 10 projects in Svenn:
B's all reach Tripletex with their normal latency; A's commands are parked in order; after
``API_UNREACHABLE_AFTER_S`` A has exactly one ``API_UNREACHABLE`` entry (and the gauge counts it);
when A's Tripletex answers again, everything parked is written once, in order, and the entry resolves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from contracts.error_codes import API_UNREACHABLE
from services.core.settings import Settings
from services.panel.queries import overview as panel_overview
from services.sandbox import Sandbox, SandboxTenant
from services.tripletex.client import ClientSettings
from services.tripletex.client.config import RetryPolicy
from services.tripletex.writer import TripletexWriter

pytestmark = pytest.mark.integration

REPORT_AFTER_S = 4.0
START = "2026-01-05"


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    tuned = settings.model_copy(
        update={"writer_probe_interval_s": 0.5, "api_unreachable_after_s": REPORT_AFTER_S}
    )
    async with Sandbox(tuned, tenant_prefix="outage") as running:
        # The client's own retries, short (production: 6 attempts over ~8 s), so the test is quick.
        writer = next(c for c in running.runtime.consumers if isinstance(c, TripletexWriter))
        writer.client_settings = ClientSettings(
            retry=RetryPolicy(max_attempts=2, server_error_base_seconds=0.05, server_error_cap_seconds=0.1)
        )
        yield running


async def tripletex_faults(sandbox: Sandbox, t: SandboxTenant, **faults: Any) -> None:
    response = await sandbox._admin.put(
        f"{sandbox.tripletex_url}/_sim/companies/{t.company_id}/faults", json=faults
    )
    response.raise_for_status()


def tripletex_projects(sandbox: Sandbox, t: SandboxTenant) -> dict[str, list[str]]:
    """number -> names of the company's projects, read from the simulator's state (no faults there)."""
    company = sandbox.tripletex_state.companies[t.company_id]
    found: dict[str, list[str]] = {}
    for project in company.table("Project").values():
        found.setdefault(str(project.get("number")), []).append(str(project.get("name")))
    return found


def unreachable_entries(errors: list[Any]) -> list[Any]:
    return [e for e in errors if e["error_code"] == API_UNREACHABLE]


async def test_S_X1_an_unreachable_tripletex_parks_its_tenant_only_and_is_one_entry_resolved_when_it_answers(
    sandbox: Sandbox,
) -> None:
    a, b = await sandbox.add_tenant(), await sandbox.add_tenant()
    await tripletex_faults(sandbox, a, errorRate=1.0, errorStatus=503)  # every API request of A's company

    for n in range(3):
        await a.svenn.projects.create(
            {"display_id": f"A-{n}", "name": f"A prosjekt {n}", "start_date": START}
        )
    first = (await a.svenn.projects.find_by_display_id("A-0"))[0]
    await a.svenn.projects.update(first.id, {"name": "A prosjekt 0, omdøpt"})  # same record: in order

    created_at: dict[str, float] = {}
    for n in range(10):
        await b.svenn.projects.create(
            {"display_id": f"B-{n}", "name": f"B prosjekt {n}", "start_date": START}
        )
        created_at[f"B-{n}"] = time.monotonic()
    synced_at: dict[str, float] = {}

    def b_synced() -> bool:
        projects = tripletex_projects(sandbox, b)
        for number in created_at:
            if number in projects and number not in synced_at:
                synced_at[number] = time.monotonic()
        return len(synced_at) == len(created_at)

    await sandbox.wait_until(b_synced, timeout=30, interval=0.05)
    latencies = sorted(synced_at[n] - created_at[n] for n in created_at)
    print(f"B's latencies while A's Tripletex is down: {[round(x, 2) for x in latencies]} s")
    assert latencies[-1] < 10, latencies  # normal latency: the old writer synced none of them
    assert all(len(names) == 1 for names in tripletex_projects(sandbox, b).values())

    # A's commands are parked, in the order they were consumed; nothing of A reached Tripletex.
    async def parked() -> list[Any]:
        rows = await sandbox._fetch(
            """SELECT command->>'source_entity_id' AS record, command->>'operation' AS operation
               FROM parked_command WHERE tenant_id = $1 AND reason = 'unreachable' ORDER BY seq""",
            a.tenant_id,
        )
        return rows if len(rows) == 4 else []

    held = await sandbox.wait_until(parked, timeout=30)
    assert [r["operation"] for r in held].count("create") == 3
    first_create = next(i for i, r in enumerate(held) if r["record"] == first.id)
    assert [r["record"] for r in held].index(first.id, first_create + 1) > first_create  # the rename after
    assert not any(number.startswith("A-") for number in tripletex_projects(sandbox, a))

    # After API_UNREACHABLE_AFTER_S: exactly one entry for A and Tripletex (several probes later still one).
    entry = (await sandbox.wait_until(lambda: _unreachable(sandbox, a), timeout=REPORT_AFTER_S + 15))[0]
    assert (entry["system"], entry["entity_type"], entry["entity_id"]) == (
        "tripletex",
        "connection",
        "tripletex",
    )
    assert entry["resolved_at"] is None and entry["rule_id"] == "S-X1"
    await _ticks(sandbox, 2.0)
    errors = await sandbox.errors(a.tenant_id)
    assert len(errors) == 1 and errors[0]["occurrences"] == 1, errors  # one entry, no per-record errors
    assert (REGISTRY.get_sample_value("tsync_sides_unreachable", {"side": "tripletex"}) or 0) >= 1
    assert sandbox._pool is not None  # the panel's overview shows it: a "connection" row, one open error
    shown = await panel_overview(sandbox._pool, a.tenant_id)
    assert [(e.entity_type, e.open_errors) for e in shown.entities if e.entity_type == "connection"] == [
        ("connection", 1)
    ]
    assert not await sandbox.errors(b.tenant_id)

    # Tripletex answers again: everything parked is written once, in order, and the entry resolves.
    write_count_before = len(sandbox.tripletex_counter.writes)
    await tripletex_faults(sandbox, a, errorRate=0.0)

    def a_synced() -> bool:
        projects = tripletex_projects(sandbox, a)
        return projects.get("A-0") == ["A prosjekt 0, omdøpt"] and "A-1" in projects and "A-2" in projects

    await sandbox.wait_until(a_synced, timeout=40)
    assert all(len(names) == 1 for names in tripletex_projects(sandbox, a).values())  # written once
    a_writes = [
        w
        for w in sandbox.tripletex_counter.writes[write_count_before:]
        if w.tenant_id == a.tenant_id and w.path.startswith("/v2/project")
    ]
    # Each parked command written once: three creates and the rename (after its create: the name holds).
    assert sorted(w.method for w in a_writes) == ["POST", "POST", "POST", "PUT"]
    assert a_writes[0].method == "POST"
    resolved = await sandbox.wait_until(lambda: _resolved(sandbox, a), timeout=20)
    assert len(resolved) == 1 and resolved[0]["occurrences"] == 1
    assert not await sandbox._fetch("SELECT 1 FROM side_outage WHERE tenant_id = $1", a.tenant_id)
    assert not await sandbox._fetch("SELECT 1 FROM parked_command WHERE tenant_id = $1", a.tenant_id)
    assert not await sandbox.errors(a.tenant_id, open_only=True)


async def _unreachable(sandbox: Sandbox, t: SandboxTenant) -> list[Any]:
    return unreachable_entries(await sandbox.errors(t.tenant_id, open_only=True))


async def _resolved(sandbox: Sandbox, t: SandboxTenant) -> list[Any]:
    entries = unreachable_entries(await sandbox.errors(t.tenant_id))
    return entries if entries and all(e["resolved_at"] is not None for e in entries) else []


async def _ticks(sandbox: Sandbox, seconds: float) -> None:
    """Let the probe run a few rounds (it reports at most once per outage)."""
    deadline = time.monotonic() + seconds
    await sandbox.wait_until(lambda: time.monotonic() >= deadline, timeout=seconds + 1)


async def test_S_X1_an_unreachable_svenn_parks_its_commands_and_they_are_written_once_when_it_answers(
    sandbox: Sandbox,
) -> None:
    t = await sandbox.add_tenant()
    await sandbox.svenn_faults(t.tenant_id, error_rate=1.0, error_status=503)  # Svenn's API: all 503
    await t.new_tripletex_project("S-1", "Til Svenn")

    async def parked() -> list[Any]:
        return await sandbox._fetch(
            """SELECT topic FROM parked_command WHERE tenant_id = $1 AND reason = 'unreachable'""",
            t.tenant_id,
        )

    assert [r["topic"] for r in await sandbox.wait_until(parked, timeout=30)] == ["svenn.commands.v1"]
    entry = (await sandbox.wait_until(lambda: _unreachable(sandbox, t), timeout=REPORT_AFTER_S + 15))[0]
    assert (entry["system"], entry["entity_id"]) == ("svenn", "svenn")

    await sandbox.svenn_faults(t.tenant_id, error_rate=0.0)
    resolved = await sandbox.wait_until(lambda: _resolved(sandbox, t), timeout=40)
    assert len(resolved) == 1
    projects = await t.svenn.projects.find_by_display_id("S-1")
    assert [p.name for p in projects] == ["Til Svenn"]  # written once
    assert not await sandbox.errors(t.tenant_id, open_only=True)
