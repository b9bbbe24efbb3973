"""Switching a tenant on with data on both sides: the readiness report (dry run) changes nothing,
the initial sync converges with one link per matching pair and no duplicates, and running it
again writes nothing. A few hundred records per side, both simulators over real HTTP, real
Kafka and PostgreSQL (S-P4, S-C1, S-E1 matching; S-P1 / S-C1 rejections reported)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest

from services.core.settings import Settings
from services.onboarding.readiness import Action, Readiness
from services.onboarding.run import initial_sync, readiness
from services.sandbox import Sandbox, SandboxTenant

pytestmark = pytest.mark.integration

PROJECTS_SVENN = range(1, 121)  # 2026.1 … 2026.120
PROJECTS_TRIPLETEX = range(61, 181)  # 2026.61 … 2026.180: 60 shared numbers
CUSTOMERS_SVENN = range(10001, 10081)
CUSTOMERS_TRIPLETEX = range(10041, 10121)  # 40 shared
EMPLOYEES_SVENN = range(101, 121)  # (Tripletex's own API user is employee 1)
EMPLOYEES_TRIPLETEX = range(111, 131)  # 10 shared


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings, tenant_prefix="onboard") as running:
        yield running


async def seed(t: SandboxTenant) -> None:
    for n in PROJECTS_SVENN:
        await t.svenn.projects.create(
            {"display_id": f"2026.{n}", "name": f"Svenn project {n}", "start_date": "2026-01-05"}
        )
    await t.svenn.projects.create({"display_id": "2026.999", "name": "No start date yet"})  # S-P1
    for n in CUSTOMERS_SVENN:
        await t.svenn.customers.create({"customer_number": str(n), "name": f"Kunde {n} AS"})
    await t.svenn.customers.create({"customer_number": "K-1", "name": "Bokstav AS"})  # S-C1
    for n in EMPLOYEES_SVENN:
        await t.svenn.employees.create(
            {
                "employee_number": str(n),
                "first_name": f"Ansatt{n}",
                "last_name": "Nordmann",
                "email": f"a{n}@firma.no",
            }
        )
    for n in PROJECTS_TRIPLETEX:
        await t.new_tripletex_project(
            f"2026.{n}", f"Tripletex project {n}", startDate=date(2026, 1, 5).isoformat()
        )
    for n in CUSTOMERS_TRIPLETEX:
        await t.tripletex_api("POST", "/customer", {"name": f"Kunde {n} AS", "customerNumber": n})
    for n in EMPLOYEES_TRIPLETEX:
        await t.tripletex_api(
            "POST",
            "/employee",
            {
                "firstName": f"Ansatt{n}",
                "lastName": "Nordmann",
                "employeeNumber": str(n),
                "email": f"a{n}@firma.no",
                "userType": "NO_ACCESS",
                "department": {"id": t.department_id},
            },
        )


async def svenn_numbers(t: SandboxTenant) -> dict[str, list[str]]:
    return {
        "project": [p.display_id or "" async for p in t.svenn.projects.iterate()],
        "customer": [c.customer_number or "" async for c in t.svenn.customers.iterate()],
        "employee": [e.employee_number or "" async for e in t.svenn.employees.iterate()],
    }


async def tripletex_numbers(t: SandboxTenant) -> dict[str, list[str]]:
    customers = [
        *await t.tripletex_list("/customer", isInactive="false"),
        *await t.tripletex_list("/customer", isInactive="true"),
    ]
    return {
        "project": [p["number"] for p in await t.tripletex_list("/project")],
        "customer": [str(c["customerNumber"]) for c in customers],
        "employee": [e["employeeNumber"] for e in await t.tripletex_list("/employee")],
    }


@dataclass
class Onboarded:
    sandbox: Sandbox
    tenant: SandboxTenant
    readiness: Readiness
    writes: int


@pytest.fixture(scope="module")
async def onboarded(sandbox: Sandbox) -> Onboarded:
    t = await sandbox.add_tenant(webhooks=False)
    # A few hundred writes in a minute: more than the Svenn simulator's default 600/min budget
    # once the test's own reads are counted; a real tenant's initial sync just takes longer.
    await sandbox.svenn_faults(t.tenant_id, rate_limit={"limit": 100000, "period_seconds": 60})
    await seed(t)
    config = await sandbox.tenants.get(t.tenant_id)
    report = await readiness(config)
    assert sandbox.engine_writes(t.tenant_id) == 0  # a dry run changes nothing

    await sandbox.connect_webhooks(t)
    done = await initial_sync(config, sandbox.runtime.publisher)
    assert done.svenn_published == 120 + 1 + 80 + 1 + 20

    async def converged() -> bool:
        svenn, tripletex = await svenn_numbers(t), await tripletex_numbers(t)
        return all(
            set(svenn[k]) - {"2026.999", "K-1"} - API_USER == EXPECTED[k]
            and set(tripletex[k]) - API_USER == EXPECTED[k]
            for k in EXPECTED
        )

    await sandbox.wait_until(converged, timeout=120)
    writes = await sandbox.settle(t.tenant_id, quiet=3, timeout=120)
    return Onboarded(sandbox, t, report, writes)


EXPECTED = {
    "project": {f"2026.{n}" for n in [*PROJECTS_SVENN, *PROJECTS_TRIPLETEX]},
    "customer": {str(n) for n in [*CUSTOMERS_SVENN, *CUSTOMERS_TRIPLETEX]},
    "employee": {str(n) for n in [*EMPLOYEES_SVENN, *EMPLOYEES_TRIPLETEX]},
}
API_USER = {"1"}  # Tripletex's integration user: an employee like any other, synced to Svenn


def test_the_readiness_report_predicts_the_initial_sync(onboarded: Onboarded) -> None:
    counts = Counter({(e.value, a.value): n for (e, a), n in onboarded.readiness.counts().items()})
    assert counts[("project", "link")] == 60
    assert counts[("project", "create in tripletex")] == 60
    assert counts[("project", "create in svenn")] == 60
    assert counts[("project", "reject")] == 1  # S-P1
    assert counts[("customer", "link")] == 40
    assert counts[("customer", "reject")] == 1  # S-C1
    assert counts[("employee", "link")] == 10
    assert onboarded.readiness.of(Action.AMBIGUOUS) == []


async def test_initial_sync_of_a_few_hundred_records_links_everything_without_duplicates(
    onboarded: Onboarded,
) -> None:
    sandbox, t = onboarded.sandbox, onboarded.tenant
    svenn, tripletex = await svenn_numbers(t), await tripletex_numbers(t)
    for kind in EXPECTED:  # no record exists twice on either side
        assert sorted(svenn[kind]) == sorted(set(svenn[kind])), kind
        assert sorted(tripletex[kind]) == sorted(set(tripletex[kind])), kind
    links = Counter((row["entity_type"], row["state"]) for row in await sandbox.links(t.tenant_id))
    # Two directed rows per link, every record of one side linked to its twin on the other.
    assert links[("project", "linked")] == 2 * 180
    assert links[("customer", "linked")] == 2 * 120
    assert links[("employee", "linked")] == 2 * (30 + len(API_USER))
    open_codes = Counter(row["error_code"] for row in await sandbox.errors(t.tenant_id, open_only=True))
    assert open_codes == Counter({"PROJECT_MISSING_START_DATE": 1, "CUSTOMER_NON_NUMERIC_ID": 1})


async def test_records_on_both_sides_end_equal_with_tripletex_values_and_switching_on_twice_writes_nothing(
    onboarded: Onboarded,
) -> None:
    sandbox, t = onboarded.sandbox, onboarded.tenant
    shared = [f"2026.{n}" for n in set(PROJECTS_SVENN) & set(PROJECTS_TRIPLETEX)]
    svenn_names = {p.display_id: p.name async for p in t.svenn.projects.iterate()}
    tripletex_names = {p["number"]: p["name"] for p in await t.tripletex_list("/project")}
    # Tripletex wins at link time: a record that existed on both sides keeps Tripletex's values.
    assert {n: svenn_names[n] for n in shared} == {n: tripletex_names[n] for n in shared}
    assert all(tripletex_names[n].startswith("Tripletex project") for n in shared)
    await initial_sync(await sandbox.tenants.get(t.tenant_id), sandbox.runtime.publisher)
    assert await sandbox.settle(t.tenant_id, quiet=3, timeout=120) == onboarded.writes
