"""Svenn ⇄ Tripletex end to end, named after the rules they prove (sync-rules.md, Part 1).

One ``Sandbox`` for the module: both simulators over real HTTP, the whole engine in this
process, real Kafka and PostgreSQL; each test connects a tenant of its own. Users act through
the simulators' APIs exactly as people would, and each test waits for the *other* side (or
the error log) to reach a state. "Nothing happened" is asserted only after ``settle()``: no
webhook in flight and no engine write for a while, with a positive control in the same
tenant where a vacuous pass would otherwise be possible.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest

from contracts.error_codes import (
    CUSTOMER_DEACTIVATE_IN_TRIPLETEX,
    CUSTOMER_NON_NUMERIC_ID,
    EMPLOYEE_MISSING_LAST_NAME,
    MATCH_AMBIGUOUS,
    PROJECT_MISSING_START_DATE,
)
from services.core.settings import Settings
from services.sandbox import Sandbox, SandboxTenant
from services.svenn.client import Customer, Project
from services.tripletex.ingest import expected_signature
from services.tripletex.mapping import PROJECT_FIELDS

pytestmark = pytest.mark.integration

WAIT = 20.0
START = "2026-03-02"


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings, tenant_prefix="e2e") as running:
        yield running


@pytest.fixture
async def t(sandbox: Sandbox, tenant_id: str) -> SandboxTenant:
    return await sandbox.add_tenant(tenant_id)


# --------------------------------------------------------------------------- helpers
async def svenn_project(t: SandboxTenant, display_id: str) -> Project | None:
    """The top-level Svenn project with this display id, deleted ones included."""
    rows = await t.svenn.projects.find_by_display_id(display_id, include_deleted=True)
    return next((p for p in rows if p.parent_id is None), None)


async def svenn_customer(t: SandboxTenant, number: str) -> Customer | None:
    rows = await t.svenn.customers.list_all(customer_number=number, include_deleted=True)
    return rows[0] if rows else None


async def tripletex_projects(t: SandboxTenant, number: str) -> list[dict[str, Any]]:
    return [p for p in await t.tripletex_list("/project", number=number) if p["number"] == number]


async def tripletex_customers_named(t: SandboxTenant, name: str) -> list[dict[str, Any]]:
    rows = []
    for inactive in ("false", "true"):
        rows += await t.tripletex_list("/customer", customerName=name, isInactive=inactive)
    return [r for r in rows if r["name"] == name]


async def tripletex_employees_named(t: SandboxTenant, first_name: str) -> list[dict[str, Any]]:
    return [e for e in await t.tripletex_list("/employee") if e["firstName"] == first_name]


async def open_error(sandbox: Sandbox, t: SandboxTenant, entity_id: str, code: str) -> Any:
    rows = await sandbox.errors(t.tenant_id, open_only=True)
    return next((r for r in rows if r["entity_id"] == entity_id and r["error_code"] == code), None)


async def link_of(sandbox: Sandbox, t: SandboxTenant, system: str, entity_id: str) -> Any:
    rows = await sandbox.links(t.tenant_id)
    return next((r for r in rows if r["system"] == system and r["entity_id"] == entity_id), None)


async def synced_project(sandbox: Sandbox, t: SandboxTenant, number: str, name: str) -> tuple[Project, int]:
    """A Svenn project with a start date, waited for until Tripletex has it: (Svenn record, Tripletex id)."""
    project = await t.svenn.projects.create({"display_id": number, "name": name, "start_date": START})
    found = await sandbox.wait_until(lambda: t.tripletex_project(number), WAIT)
    return project, int(found["id"])


async def tripletex_project_in_svenn(sandbox: Sandbox, t: SandboxTenant, number: str) -> tuple[int, Project]:
    """A Tripletex project created by a user, waited for until Svenn has it."""
    created = await t.new_tripletex_project(number, f"Prosjekt {number}")
    project = await sandbox.wait_until(lambda: svenn_project(t, number), WAIT)
    return int(created["id"]), project


# --------------------------------------------------------------------------- projects
async def test_S_P1_missing_start_date_opens_an_error_that_resolves_when_the_date_is_set(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    project = await t.svenn.projects.create({"display_id": "2024.30", "name": "Uten startdato"})
    entry = await sandbox.wait_until(
        lambda: open_error(sandbox, t, project.id, PROJECT_MISSING_START_DATE), WAIT
    )
    assert (entry["rule_id"], entry["system"], entry["entity_type"]) == ("S-P1", "svenn", "project")
    assert await tripletex_projects(t, "2024.30") == []

    await t.svenn.projects.update(project.id, {"start_date": START})
    found = await sandbox.wait_until(lambda: t.tripletex_project("2024.30"), WAIT)
    assert found["startDate"] == START
    await sandbox.wait_until(
        lambda: _not(open_error(sandbox, t, project.id, PROJECT_MISSING_START_DATE)), WAIT
    )
    (row,) = [r for r in await sandbox.errors(t.tenant_id) if r["entity_id"] == project.id]
    assert row["resolved_at"] is not None


async def _not(awaitable: Any) -> bool:
    return not await awaitable


async def test_S_P2_sub_project_never_reaches_tripletex(sandbox: Sandbox, t: SandboxTenant) -> None:
    parent, _ = await synced_project(sandbox, t, "2024.31", "Hovedprosjekt")
    child = await t.svenn.projects.create(
        {"name": "Delprosjekt", "parent_id": parent.id, "start_date": START}
    )
    assert child.display_id == "2024.31"  # Svenn lets the sub-project show its parent's id
    await t.svenn.projects.update(child.id, {"name": "Delprosjekt, endret"})
    await sandbox.settle(t.tenant_id, quiet=2.0)

    (only,) = await tripletex_projects(t, "2024.31")
    assert only["name"] == "Hovedprosjekt"
    assert await link_of(sandbox, t, "svenn", child.id) is None
    assert await sandbox.errors(t.tenant_id) == []  # skipped silently


async def test_S_P3_internal_tripletex_project_is_not_created_in_svenn(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    await t.new_tripletex_project("INT-1", "Internt", isInternal=True)
    await tripletex_project_in_svenn(sandbox, t, "2024.32")  # control: a normal one does arrive
    await sandbox.settle(t.tenant_id, quiet=2.0)
    assert await svenn_project(t, "INT-1") is None


async def test_S_P4_display_id_matching_an_internal_project_links_and_keeps_it_internal(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    internal = await t.new_tripletex_project("2024.33", "Internt lager", isInternal=True)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    project = await t.svenn.projects.create({"display_id": "2024.33", "name": "Lager", "start_date": START})

    link = await sandbox.wait_until(lambda: link_of(sandbox, t, "svenn", project.id), WAIT)
    assert link["other_id"] == str(internal["id"]) and link["state"] == "linked"
    await t.svenn.projects.update(project.id, {"name": "Lager, ombygd"})

    async def renamed() -> dict[str, Any] | None:
        found = await t.tripletex_project("2024.33")
        return found if found and found["name"] == "Lager, ombygd" else None

    await sandbox.wait_until(renamed, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.5)
    (only,) = await tripletex_projects(t, "2024.33")  # linked, not duplicated
    assert only["id"] == internal["id"]
    assert only["isInternal"] is True  # the engine never changes isInternal


async def test_S_P7_completed_in_svenn_closes_the_project_in_tripletex(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    project, tripletex_id = await synced_project(sandbox, t, "2024.34", "Ferdig snart")
    await t.svenn.projects.update(project.id, {"status": "completed"})

    async def closed() -> bool:
        found = await t.tripletex_project("2024.34")
        return bool(found and found["isClosed"])

    await sandbox.wait_until(closed, WAIT)
    assert [p["id"] for p in await tripletex_projects(t, "2024.34")] == [tripletex_id]


async def test_S_P7_deleted_in_svenn_changes_nothing_in_tripletex(sandbox: Sandbox, t: SandboxTenant) -> None:
    project, tripletex_id = await synced_project(sandbox, t, "2024.35", "Slettes i Svenn")
    await sandbox.settle(t.tenant_id, quiet=1.0)
    before = await t.tripletex_project("2024.35")
    writes = sandbox.engine_writes(t.tenant_id, "tripletex")
    await t.svenn.projects.delete(project.id)
    await sandbox.settle(t.tenant_id, quiet=2.0)

    after = await t.tripletex_project("2024.35")
    assert after == before and after is not None and after["id"] == tripletex_id
    assert after["isClosed"] is False
    assert sandbox.engine_writes(t.tenant_id, "tripletex") == writes


async def rules_about(sandbox: Sandbox, t: SandboxTenant, system: str, entity_id: str) -> list[str]:
    """The rule ids the decision log holds for one record, oldest first."""
    rows = await sandbox.decisions(t.tenant_id)
    return [r["rule_id"] for r in rows if r["source"] == system and r["entity_id"] == entity_id]


async def test_S_P7a_tripletex_edits_after_the_svenn_project_was_deleted_are_skipped_quietly(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    gone, gone_tx = await synced_project(sandbox, t, "2024.40", "Slettes i Svenn")
    _, kept_tx = await synced_project(sandbox, t, "2024.41", "Blir")
    await t.svenn.projects.delete(gone.id)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    for tripletex_id, name in ((gone_tx, "Endret etter sletting"), (kept_tx, "Blir, endret")):
        current = (await t.tripletex_api("GET", f"/project/{tripletex_id}"))["value"]
        await t.tripletex_api(
            "PUT", f"/project/{tripletex_id}", {"version": current["version"], "name": name}
        )

    async def kept_renamed() -> bool:  # the positive control: the live pair still syncs
        found = await svenn_project(t, "2024.41")
        return found is not None and found.name == "Blir, endret"

    await sandbox.wait_until(kept_renamed, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.5)
    deleted = await svenn_project(t, "2024.40")
    assert deleted is not None and deleted.status == "deleted" and deleted.name == "Slettes i Svenn"
    assert await sandbox.errors(t.tenant_id) == []  # quietly: no WRITE_REJECTED the user cannot fix
    assert "S-P7a" in await rules_about(sandbox, t, "tripletex", str(gone_tx))


async def test_S_P2_tripletex_sub_project_is_not_created_in_svenn(sandbox: Sandbox, t: SandboxTenant) -> None:
    main = await t.new_tripletex_project("2024.42", "Hovedprosjekt i Tripletex")
    await sandbox.wait_until(lambda: svenn_project(t, "2024.42"), WAIT)
    sub = await t.new_tripletex_project("2024.43", "Underprosjekt", mainProject={"id": main["id"]})
    await tripletex_project_in_svenn(sandbox, t, "2024.44")  # control: a top-level one does arrive
    await sandbox.settle(t.tenant_id, quiet=1.5)
    assert await svenn_project(t, "2024.43") is None
    assert [p.display_id for p in await t.svenn.projects.list_all() if p.name == "Underprosjekt"] == []
    assert "S-P2" in await rules_about(sandbox, t, "tripletex", str(sub["id"]))
    assert await sandbox.errors(t.tenant_id) == []


async def test_S_P7_closed_in_tripletex_completes_the_project_in_svenn(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    tripletex_id, _ = await tripletex_project_in_svenn(sandbox, t, "2024.36")
    current = (await t.tripletex_api("GET", f"/project/{tripletex_id}"))["value"]
    await t.tripletex_api(
        "PUT", f"/project/{tripletex_id}", {"version": current["version"], "isClosed": True}
    )

    async def completed() -> bool:
        found = await svenn_project(t, "2024.36")
        return bool(found and found.status == "completed")

    await sandbox.wait_until(completed, WAIT)


async def test_S_P7_deleted_in_tripletex_completes_the_project_in_svenn(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    tripletex_id, _ = await tripletex_project_in_svenn(sandbox, t, "2024.37")
    await sandbox.settle(t.tenant_id, quiet=1.0)  # the create has finished syncing (linked)
    await t.tripletex_api("DELETE", f"/project/{tripletex_id}")

    async def completed() -> bool:
        found = await svenn_project(t, "2024.37")
        return bool(found and found.status == "completed")

    await sandbox.wait_until(completed, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.5)
    assert await tripletex_projects(t, "2024.37") == []  # and the engine did not bring it back
    assert await sandbox.errors(t.tenant_id) == []  # its echo is not written to the deleted one


async def test_S_P7_project_deleted_in_tripletex_while_its_sync_is_in_flight_is_not_recreated(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    created = await t.new_tripletex_project("2024.38", "Kortlivet")
    await t.tripletex_api("DELETE", f"/project/{created['id']}")
    await sandbox.settle(t.tenant_id, quiet=2.0)
    assert await tripletex_projects(t, "2024.38") == []
    in_svenn = await svenn_project(t, "2024.38")
    assert in_svenn is None or in_svenn.status == "completed"
    # A later edit in Svenn neither re-creates it in Tripletex nor fails on the deleted one.
    if in_svenn is not None:
        await t.svenn.projects.update(in_svenn.id, {"name": "Kortlivet, endret"})
        await sandbox.settle(t.tenant_id, quiet=1.5)
        assert await tripletex_projects(t, "2024.38") == []
    assert await sandbox.errors(t.tenant_id) == []


async def participants_of(t: SandboxTenant, project_id: int) -> set[int]:
    """The employee ids of a Tripletex project's participants."""
    value = await t.tripletex_api("GET", f"/project/{project_id}", fields="participants(employee(id))")
    return {p["employee"]["id"] for p in value["value"].get("participants") or []}


async def synced_svenn_employee(
    sandbox: Sandbox, t: SandboxTenant, first: str, number: str
) -> tuple[str, int]:
    """A Svenn employee, waited for until it is linked: (Svenn id, Tripletex id)."""
    employee = await t.svenn.employees.create(
        {"first_name": first, "last_name": "Deltaker", "employee_number": number}
    )
    link = await sandbox.wait_until(lambda: link_of(sandbox, t, "svenn", employee.id), WAIT)
    return employee.id, int(link["other_id"])


async def test_S_P5_tripletex_project_without_number_gets_one_and_reaches_svenn_with_it(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    await t.new_tripletex_project("S-P5.1", "Bokstavnummer")  # S-P6: not counted by the generator
    await t.new_tripletex_project("7", "Høyeste tall")
    created = await t.new_tripletex_project("tmp-p5", "Uten nummer")
    await sandbox.settle(t.tenant_id, quiet=1.0)
    current = (await t.tripletex_api("GET", f"/project/{created['id']}"))["value"]
    await t.tripletex_api("PUT", f"/project/{created['id']}", {"version": current["version"], "number": ""})

    numbered = await sandbox.wait_until(lambda: svenn_project(t, "8"), WAIT)
    assert numbered.name == "Uten nummer" and numbered.status == "active"
    after = (await t.tripletex_api("GET", f"/project/{created['id']}"))["value"]
    assert after["number"] == "8"  # written back: the next integer after 7, free on both sides
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert await sandbox.errors(t.tenant_id) == []


async def test_S_P6_numbers_with_letters_and_dots_travel_unchanged_both_ways(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    await t.svenn.projects.create({"display_id": "A12.3", "name": "Fra Svenn", "start_date": START})
    await t.new_tripletex_project("007.50", "Fra Tripletex")
    in_tripletex = await sandbox.wait_until(lambda: t.tripletex_project("A12.3"), WAIT)
    in_svenn = await sandbox.wait_until(lambda: svenn_project(t, "007.50"), WAIT)
    assert (in_tripletex["name"], in_svenn.name) == ("Fra Svenn", "Fra Tripletex")
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert await svenn_project(t, "7.5") is None and await t.tripletex_project("7.5") is None


async def test_S_E2_tripletex_employee_without_number_gets_one_written_back_and_reaches_svenn(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    body = {
        "firstName": "Nummerløs",
        "lastName": "Ansatt",
        "userType": "NO_ACCESS",
        "department": {"id": t.department_id},
    }
    created = (await t.tripletex_api("POST", "/employee", body))["value"]
    assert not created.get("employeeNumber")

    async def in_svenn() -> Any:
        rows = [e for e in await t.svenn.employees.list_all() if e.first_name == "Nummerløs"]
        return rows[0] if rows and rows[0].employee_number else None

    employee = await sandbox.wait_until(in_svenn, WAIT)
    after = (await t.tripletex_api("GET", f"/employee/{created['id']}"))["value"]
    assert after["employeeNumber"] and employee.employee_number == after["employeeNumber"]
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert len([e for e in await t.svenn.employees.list_all() if e.first_name == "Nummerløs"]) == 1
    assert await sandbox.errors(t.tenant_id) == []


async def test_concurrent_edits_of_different_fields_on_both_sides_both_survive(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    project, tripletex_id = await synced_project(sandbox, t, "2024.90", "Samtidig")
    await sandbox.settle(t.tenant_id, quiet=1.0)
    current = (await t.tripletex_api("GET", f"/project/{tripletex_id}"))["value"]
    # Close together: neither change has reached the other side when the second one is made.
    await t.svenn.projects.update(project.id, {"name": "Samtidig, nytt navn"})
    await t.tripletex_api(
        "PUT", f"/project/{tripletex_id}", {"version": current["version"], "endDate": "2026-12-31"}
    )
    await sandbox.settle(t.tenant_id, quiet=2.0)
    in_svenn = await t.svenn.projects.get(project.id)
    in_tripletex = (await t.tripletex_api("GET", f"/project/{tripletex_id}"))["value"]
    assert (in_svenn.name, str(in_svenn.end_date)) == ("Samtidig, nytt navn", "2026-12-31")
    assert (in_tripletex["name"], in_tripletex["endDate"]) == ("Samtidig, nytt navn", "2026-12-31")
    assert await sandbox.errors(t.tenant_id) == []


async def test_concurrent_edits_of_the_same_field_end_equal_with_tripletex_s_value(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    project, tripletex_id = await synced_project(sandbox, t, "2024.91", "Samme felt")
    await sandbox.settle(t.tenant_id, quiet=1.0)
    current = (await t.tripletex_api("GET", f"/project/{tripletex_id}"))["value"]
    await t.svenn.projects.update(project.id, {"name": "Navn fra Svenn"})
    await t.tripletex_api(
        "PUT", f"/project/{tripletex_id}", {"version": current["version"], "name": "Navn fra Tripletex"}
    )
    await sandbox.settle(t.tenant_id, quiet=2.0)
    in_svenn = (await t.svenn.projects.get(project.id)).name
    in_tripletex = (await t.tripletex_api("GET", f"/project/{tripletex_id}"))["value"]["name"]
    # The README's policy for a concurrent edit of the same field: Tripletex wins.
    assert in_svenn == in_tripletex == "Navn fra Tripletex"


async def test_S_P8_svenn_members_become_tripletex_participants_and_leave_again(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    ada, ada_tx = await synced_svenn_employee(sandbox, t, "Ada", "801")
    bo, bo_tx = await synced_svenn_employee(sandbox, t, "Bo", "802")
    project = await t.svenn.projects.create(
        {"display_id": "2024.80", "name": "Med folk", "start_date": START, "member_ids": [ada, bo]}
    )
    found = await sandbox.wait_until(lambda: t.tripletex_project("2024.80"), WAIT)

    async def participants_are(wanted: set[int]) -> bool:
        return wanted <= await participants_of(t, int(found["id"]))

    await sandbox.wait_until(lambda: participants_are({ada_tx, bo_tx}), WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    kept = await participants_of(t, int(found["id"])) - {ada_tx, bo_tx}  # e.g. a manager Svenn lacks

    await t.svenn.projects.update(project.id, {"member_ids": [ada]})

    async def bo_left() -> bool:
        return await participants_of(t, int(found["id"])) == {ada_tx} | kept

    await sandbox.wait_until(bo_left, WAIT)
    settled = await sandbox.settle(t.tenant_id, quiet=1.5)
    assert list((await t.svenn.projects.get(project.id)).member_ids) == [ada]  # nothing came back
    assert sandbox.engine_writes(t.tenant_id) == settled
    assert await sandbox.errors(t.tenant_id) == []


async def test_S_P8_tripletex_participants_become_svenn_members(sandbox: Sandbox, t: SandboxTenant) -> None:
    _, ada_tx = await synced_svenn_employee(sandbox, t, "Ada", "811")
    await t.new_tripletex_project("2024.81", "Fra Tripletex", participants=[{"employee": {"id": ada_tx}}])
    in_svenn = await sandbox.wait_until(lambda: svenn_project(t, "2024.81"), WAIT)
    ada = (await link_of(sandbox, t, "tripletex", str(ada_tx)))["other_id"]
    assert list(in_svenn.member_ids) == [ada]


async def test_a_stale_tripletex_delivery_arriving_late_does_not_overwrite_newer_state(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    # Out-of-order protection for a record the engine never wrote to (created in Tripletex):
    # only the versions already seen order its changes.
    tripletex_id, project = await tripletex_project_in_svenn(sandbox, t, "2024.95")
    old = (await t.tripletex_api("GET", f"/project/{tripletex_id}", fields=PROJECT_FIELDS))["value"]
    await t.tripletex_api("PUT", f"/project/{tripletex_id}", {"version": old["version"], "name": "Nytt navn"})

    async def renamed() -> bool:
        return (await t.svenn.projects.get(project.id)).name == "Nytt navn"

    await sandbox.wait_until(renamed, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    # The first delivery, retried by Tripletex long after, with the value it had then.
    body = json.dumps({"subscriptionId": 1, "event": "project.update", "id": tripletex_id, "value": old})
    config = await sandbox.tenants.get(t.tenant_id)
    assert config.tripletex is not None and config.tripletex.webhook_secret is not None
    key = f"late-{uuid.uuid4().hex}"
    signature = expected_signature(config.tripletex.webhook_secret, key, body.encode())
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.engine_url}/webhooks/tripletex/{t.tenant_id}",
            content=body,
            headers={"idempotency-key": key, "x-request-signature": signature},
        )
    assert response.status_code == 202, response.text
    settled = await sandbox.settle(t.tenant_id, quiet=2.0)
    assert (await t.svenn.projects.get(project.id)).name == "Nytt navn"
    assert sandbox.engine_writes(t.tenant_id) == settled


# --------------------------------------------------------------------------- customers
async def test_S_C1_non_numeric_customer_id_goes_to_the_error_log_and_is_not_created(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    customer = await t.svenn.customers.create({"customer_number": "K-12", "name": "Bokstav AS"})
    entry = await sandbox.wait_until(
        lambda: open_error(sandbox, t, customer.id, CUSTOMER_NON_NUMERIC_ID), WAIT
    )
    assert entry["rule_id"] == "S-C1"
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert await tripletex_customers_named(t, "Bokstav AS") == []


async def test_S_C2_inactive_customers_are_not_created_on_the_other_side(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    await t.svenn.customers.create({"customer_number": "20001", "name": "Sovende AS", "status": "inactive"})
    await t.tripletex_api(
        "POST", "/customer", {"name": "Hvilende AS", "customerNumber": 20002, "isInactive": True}
    )
    await t.svenn.customers.create({"customer_number": "20003", "name": "Aktiv AS"})  # control
    await sandbox.wait_until(lambda: t.tripletex_customer(20003), WAIT)
    await sandbox.settle(t.tenant_id, quiet=2.0)
    assert await t.tripletex_customer(20001) is None
    assert await svenn_customer(t, "20002") is None


async def test_S_C4_customer_from_svenn_is_invoiced_by_email(sandbox: Sandbox, t: SandboxTenant) -> None:
    await t.svenn.customers.create(
        {"customer_number": "30001", "name": "Epost AS", "email": "faktura@epost.no"}
    )
    found = await sandbox.wait_until(lambda: t.tripletex_customer(30001), WAIT)
    assert found["invoiceSendMethod"] == "EMAIL"
    assert found["name"] == "Epost AS"


async def test_S_C5_deleted_in_svenn_is_not_deleted_in_tripletex_and_the_link_breaks(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    customer = await t.svenn.customers.create({"customer_number": "40001", "name": "Brutt AS"})
    created = await sandbox.wait_until(lambda: t.tripletex_customer(40001), WAIT)
    await sandbox.wait_until(lambda: link_of(sandbox, t, "svenn", customer.id), WAIT)
    await t.svenn.customers.delete(customer.id)

    async def broken() -> bool:
        link = await link_of(sandbox, t, "svenn", customer.id)
        return bool(link and link["state"] == "broken")

    await sandbox.wait_until(broken, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    still = await t.tripletex_customer(40001)
    assert still is not None and still["id"] == created["id"] and still["isInactive"] is False

    svenn_writes = sandbox.engine_writes(t.tenant_id, "svenn")
    await t.tripletex_api(
        "PUT", f"/customer/{still['id']}", {"version": still["version"], "name": "Brutt AS, ny"}
    )
    await sandbox.settle(t.tenant_id, quiet=2.0)
    gone = await svenn_customer(t, "40001")
    assert gone is not None and gone.status == "deleted" and gone.name == "Brutt AS"
    assert sandbox.engine_writes(t.tenant_id, "svenn") == svenn_writes


async def test_S_C5_inactive_active_deleted_in_tripletex_follow_in_svenn(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    body = {"name": "Svinger AS", "customerNumber": 40002, "email": "post@svinger.no"}
    tripletex_id = (await t.tripletex_api("POST", "/customer", body))["value"]["id"]
    await sandbox.wait_until(lambda: svenn_customer(t, "40002"), WAIT)

    for inactive, status in ((True, "inactive"), (False, "active")):
        await sandbox.settle(t.tenant_id, quiet=1.0)  # the previous change has finished syncing
        current = (await t.tripletex_api("GET", f"/customer/{tripletex_id}"))["value"]
        await t.tripletex_api(
            "PUT", f"/customer/{tripletex_id}", {"version": current["version"], "isInactive": inactive}
        )
        await sandbox.wait_until(partial(_customer_status, t, "40002", status), WAIT)

    await sandbox.settle(t.tenant_id, quiet=1.0)
    await t.tripletex_api("DELETE", f"/customer/{tripletex_id}")
    await sandbox.wait_until(partial(_customer_status, t, "40002", "deleted"), WAIT)


async def test_S_C3_deactivation_from_tripletex_opens_no_error_when_its_echo_returns(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    body = {"name": "Pause AS", "customerNumber": 40003}
    tripletex_id = (await t.tripletex_api("POST", "/customer", body))["value"]["id"]
    await sandbox.wait_until(lambda: svenn_customer(t, "40003"), WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    current = (await t.tripletex_api("GET", f"/customer/{tripletex_id}"))["value"]
    await t.tripletex_api(
        "PUT", f"/customer/{tripletex_id}", {"version": current["version"], "isInactive": True}
    )
    await sandbox.wait_until(partial(_customer_status, t, "40003", "inactive"), WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.5)
    assert await sandbox.errors(t.tenant_id) == []


@pytest.mark.parametrize("resolved_by", ["reactivated in Svenn", "deactivated in Tripletex"])
async def test_S_C3_svenn_may_not_deactivate_a_tripletex_customer_and_is_told_until_it_is_settled(
    sandbox: Sandbox, t: SandboxTenant, resolved_by: str
) -> None:
    customer = await t.svenn.customers.create({"customer_number": "40004", "name": "Bestemmer AS"})
    created = await sandbox.wait_until(lambda: t.tripletex_customer(40004), WAIT)
    await sandbox.wait_until(lambda: link_of(sandbox, t, "svenn", customer.id), WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    await t.svenn.customers.update(customer.id, {"status": "inactive"})

    entry = await sandbox.wait_until(
        lambda: open_error(sandbox, t, customer.id, CUSTOMER_DEACTIVATE_IN_TRIPLETEX), WAIT
    )
    assert entry["rule_id"] == "S-C3"
    await sandbox.settle(t.tenant_id, quiet=1.0)
    still = await t.tripletex_customer(40004)
    assert still is not None and still["id"] == created["id"] and still["isInactive"] is False

    if resolved_by == "reactivated in Svenn":  # S-C5: "set active" in Svenn reaches Tripletex
        await t.svenn.customers.update(customer.id, {"status": "active", "name": "Bestemmer AS, aktiv"})

        async def renamed() -> bool:
            found = await t.tripletex_customer(40004)
            return bool(found and found["name"] == "Bestemmer AS, aktiv" and found["isInactive"] is False)

        await sandbox.wait_until(renamed, WAIT)
    else:  # the accountant does it where it belongs
        await t.tripletex_api(
            "PUT", f"/customer/{still['id']}", {"version": still["version"], "isInactive": True}
        )
    await sandbox.wait_until(
        lambda: _not(open_error(sandbox, t, customer.id, CUSTOMER_DEACTIVATE_IN_TRIPLETEX)), WAIT
    )
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert await sandbox.errors(t.tenant_id, open_only=True) == []
    expected = "active" if resolved_by == "reactivated in Svenn" else "inactive"
    assert await _customer_status(t, "40004", expected)


async def test_two_svenn_customers_meaning_one_tripletex_customer_are_ambiguous_not_merged(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    # Svenn keeps leading zeros, Tripletex's customer number is an integer: "055" is customer 55.
    first = await t.svenn.customers.create({"customer_number": "55", "name": "Femfem AS"})
    created = await sandbox.wait_until(lambda: t.tripletex_customer(55), WAIT)
    await sandbox.wait_until(lambda: link_of(sandbox, t, "svenn", first.id), WAIT)
    twin = await t.svenn.customers.create({"customer_number": "055", "name": "Femfem, dublett"})

    entry = await sandbox.wait_until(lambda: open_error(sandbox, t, twin.id, MATCH_AMBIGUOUS), WAIT)
    assert (entry["system"], entry["entity_type"]) == ("svenn", "customer")
    assert first.id in entry["detail"] and twin.id in entry["detail"]
    await sandbox.settle(t.tenant_id, quiet=1.0)
    assert await link_of(sandbox, t, "svenn", twin.id) is None  # never merged
    link = await link_of(sandbox, t, "tripletex", str(created["id"]))
    assert link is not None and link["other_id"] == first.id
    (only,) = await tripletex_customers_named(t, "Femfem AS")
    assert only["id"] == created["id"]

    # Renumbered by the user, it syncs, and the entry resolves itself.
    await t.svenn.customers.update(twin.id, {"customer_number": "56"})
    await sandbox.wait_until(lambda: t.tripletex_customer(56), WAIT)
    await sandbox.wait_until(lambda: _not(open_error(sandbox, t, twin.id, MATCH_AMBIGUOUS)), WAIT)


async def _customer_status(t: SandboxTenant, number: str, status: str) -> bool:
    found = await svenn_customer(t, number)
    return found is not None and found.status == status


# --------------------------------------------------------------------------- employees
async def test_S_E1_employee_without_last_name_goes_to_the_error_log(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    nameless = await t.svenn.employees.create({"first_name": "Etternavnløs", "email": "e1@firma.no"})
    await t.svenn.employees.create({"first_name": "Hel", "last_name": "Person", "email": "e2@firma.no"})
    entry = await sandbox.wait_until(
        lambda: open_error(sandbox, t, nameless.id, EMPLOYEE_MISSING_LAST_NAME), WAIT
    )
    assert entry["rule_id"] == "S-E1"
    await sandbox.wait_until(lambda: tripletex_employees_named(t, "Hel"), WAIT)  # control
    assert await tripletex_employees_named(t, "Etternavnløs") == []


async def test_S_E3_inactive_svenn_employee_is_not_synced(sandbox: Sandbox, t: SandboxTenant) -> None:
    await t.svenn.employees.create(
        {"first_name": "Pensjonist", "last_name": "Hansen", "email": "p@firma.no", "status": "inactive"}
    )
    await t.svenn.employees.create({"first_name": "Aktiv", "last_name": "Hansen", "email": "aktiv@firma.no"})
    await sandbox.wait_until(lambda: tripletex_employees_named(t, "Aktiv"), WAIT)  # control
    await sandbox.settle(t.tenant_id, quiet=1.5)
    assert await tripletex_employees_named(t, "Pensjonist") == []


async def test_S_E3_linking_a_tripletex_employee_never_reactivates_an_inactive_svenn_employee(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    retired = await t.svenn.employees.create(
        {"first_name": "Pensjonert", "last_name": "Olsen", "email": "olsen@firma.no", "status": "inactive"}
    )
    body = {
        "firstName": "Pensjonert",
        "lastName": "Olsen",
        "email": "olsen@firma.no",
        "userType": "NO_ACCESS",
        "department": {"id": t.department_id},
    }
    created = (await t.tripletex_api("POST", "/employee", body))["value"]
    link = await sandbox.wait_until(lambda: link_of(sandbox, t, "tripletex", str(created["id"])), WAIT)
    assert link["other_id"] == retired.id  # matched by e-mail, not duplicated
    current = (await t.tripletex_api("GET", f"/employee/{created['id']}"))["value"]
    await t.tripletex_api(
        "PUT", f"/employee/{created['id']}", {"version": current["version"], "phoneNumberMobile": "91234567"}
    )

    async def phone_arrived() -> bool:
        return (await t.svenn.employees.get(retired.id)).phone == "91234567"

    await sandbox.wait_until(phone_arrived, WAIT)  # later changes still sync ...
    await sandbox.settle(t.tenant_id, quiet=1.0)
    after = await t.svenn.employees.get(retired.id)
    assert after.status == "inactive"  # ... but the employee stays inactive (S-E3)
    assert len([e for e in await t.svenn.employees.list_all() if e.last_name == "Olsen"]) == 1


async def test_S_E1_employee_with_a_last_name_but_no_email_or_number_syncs(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    employee = await t.svenn.employees.create({"first_name": "Uten", "last_name": "Epost"})

    async def written_or_refused() -> bool:
        return any(r["source_entity_id"] == employee.id for r in await sandbox.outcomes(t.tenant_id))

    await sandbox.wait_until(written_or_refused, WAIT)
    await sandbox.settle(t.tenant_id, quiet=1.0)
    (created,) = await tripletex_employees_named(t, "Uten")
    assert await sandbox.errors(t.tenant_id) == []
    # S-E2's number, given in Svenn first (the key that makes the create idempotent), and linked.
    in_svenn = await t.svenn.employees.get(employee.id)
    assert created["employeeNumber"] and in_svenn.employee_number == created["employeeNumber"]
    link = await link_of(sandbox, t, "svenn", employee.id)
    assert link is not None and link["other_id"] == str(created["id"])


# --------------------------------------------------------------------------- echo / ping-pong
async def test_echo_a_burst_on_both_sides_settles_with_no_ping_pong_and_equal_state(
    sandbox: Sandbox, t: SandboxTenant
) -> None:
    svenn_projects = [
        await t.svenn.projects.create({"display_id": f"2025.{i}", "name": f"Svenn {i}", "start_date": START})
        for i in range(1, 5)
    ]
    tripletex_projects_ = [await t.new_tripletex_project(f"T-{i}", f"Tripletex {i}") for i in range(1, 4)]
    for i in range(1, 3):
        await t.svenn.customers.create({"customer_number": f"5000{i}", "name": f"Svenn-kunde {i}"})
        await t.tripletex_api("POST", "/customer", {"name": f"Tx-kunde {i}", "customerNumber": 6000 + i})
    await t.svenn.employees.create(
        {"first_name": "Burst", "last_name": "Svennsen", "email": "burst@firma.no"}
    )

    # While the first changes are still travelling, change records on both sides again.
    await t.svenn.projects.update(svenn_projects[0].id, {"name": "Svenn 1, endret"})
    await t.svenn.projects.update(svenn_projects[1].id, {"end_date": "2026-12-31"})
    await sandbox.wait_until(lambda: svenn_project(t, "T-1"), WAIT)
    current = (await t.tripletex_api("GET", f"/project/{tripletex_projects_[0]['id']}"))["value"]
    await t.tripletex_api(
        "PUT", f"/project/{current['id']}", {"version": current["version"], "name": "Tripletex 1, endret"}
    )

    settled = await sandbox.settle(t.tenant_id, quiet=3.0, timeout=40)
    await asyncio.sleep(4.0)  # webhooks may run; nothing should come of them
    assert sandbox.engine_writes(t.tenant_id) == settled, sandbox.write_log(t.tenant_id)

    # Both sides hold the same projects, customers and the employee.
    svenn_dump, tripletex_dump = (
        await sandbox.svenn_dump(t.tenant_id),
        await sandbox.tripletex_dump(t.tenant_id),
    )
    in_svenn = {
        p["display_id"]: (p["name"], p["start_date"], p["end_date"])
        for p in svenn_dump["projects"]
        if p["status"] != "deleted"
    }
    in_tripletex = {
        p["number"]: (p["name"], p["startDate"], p.get("endDate") or None) for p in tripletex_dump["Project"]
    }
    assert in_svenn == in_tripletex
    assert in_svenn["2025.1"][0] == "Svenn 1, endret" and in_svenn["2025.2"][2] == "2026-12-31"
    assert in_svenn["T-1"][0] == "Tripletex 1, endret"
    customers_svenn = {c["customer_number"]: c["name"] for c in svenn_dump["customers"]}
    customers_tripletex = {str(c["customerNumber"]): c["name"] for c in tripletex_dump["Customer"]}
    assert customers_svenn == customers_tripletex and len(customers_svenn) == 4
    assert [e["firstName"] for e in tripletex_dump["Employee"] if e["lastName"] == "Svennsen"] == ["Burst"]
    assert await sandbox.errors(t.tenant_id) == []
