"""Timesheet entries: activity rules, duplicates, exclusive `dateTo`, nulling PUT, batches."""

from __future__ import annotations

from typing import Any

from services.tripletex.simulator.testing import SimulatorHarness, Tenant


async def _setup(sim: SimulatorHarness, tenant: Tenant) -> tuple[int, int, int]:
    project = await sim.client.post(
        "/v2/project",
        auth=tenant.auth,
        json={
            "name": "P",
            "projectManager": {"id": tenant.company.api_employee_id},
            "startDate": "2026-01-01",
        },
    )
    activity = await sim.client.post(
        "/v2/activity",
        auth=tenant.auth,
        json={
            "name": "Montering",
            "number": "A1",
            "activityType": "PROJECT_GENERAL_ACTIVITY",
            "isChargeable": True,
        },
    )
    return project.json()["value"]["id"], activity.json()["value"]["id"], tenant.company.api_employee_id


def _entry(project: int, activity: int, employee: int, day: str, hours: float = 7.5) -> dict[str, Any]:
    return {
        "project": {"id": project},
        "activity": {"id": activity},
        "employee": {"id": employee},
        "date": day,
        "hours": hours,
        "comment": "montering",
    }


async def test_duplicate_entry_and_date_window() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        project, activity, employee = await _setup(sim, tenant)
        created = await sim.client.post(
            "/v2/timesheet/entry", auth=tenant.auth, json=_entry(project, activity, employee, "2026-03-31")
        )
        assert created.status_code == 201
        assert created.json()["value"]["chargeableHours"] == 7.5
        duplicate = await sim.client.post(
            "/v2/timesheet/entry", auth=tenant.auth, json=_entry(project, activity, employee, "2026-03-31", 2)
        )
        assert duplicate.status_code == 422

        missing_window = await sim.client.get("/v2/timesheet/entry", auth=tenant.auth)
        assert missing_window.status_code == 422
        exclusive = await sim.client.get(
            "/v2/timesheet/entry", auth=tenant.auth, params={"dateFrom": "2026-03-01", "dateTo": "2026-03-31"}
        )
        assert exclusive.json()["values"] == []
        inclusive = await sim.client.get(
            "/v2/timesheet/entry",
            auth=tenant.auth,
            params={
                "dateFrom": "2026-03-31",
                "dateTo": "2026-04-01",
                "projectId": project,
                "employeeId": employee,
            },
        )
        assert inclusive.json()["count"] == 1
        assert inclusive.json()["sumAllHours"] == 7.5


async def test_put_nulls_fields_left_out_and_activity_must_fit_project() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        project, activity, employee = await _setup(sim, tenant)
        entry = (
            await sim.client.post(
                "/v2/timesheet/entry",
                auth=tenant.auth,
                json=_entry(project, activity, employee, "2026-03-02"),
            )
        ).json()["value"]
        full = _entry(project, activity, employee, "2026-03-02", 4)
        del full["comment"]
        updated = await sim.client.put(
            f"/v2/timesheet/entry/{entry['id']}", auth=tenant.auth, json={**full, "version": entry["version"]}
        )
        assert updated.status_code == 200
        assert updated.json()["value"]["comment"] == ""  # nulled, rendered as empty text
        assert updated.json()["value"]["hours"] == 4

        partial = await sim.client.put(
            f"/v2/timesheet/entry/{entry['id']}", auth=tenant.auth, json={"hours": 3}
        )
        assert partial.status_code == 422  # activity/date/employee were nulled

        general = await sim.client.post(
            "/v2/activity", auth=tenant.auth, json={"name": "Ferie", "activityType": "GENERAL_ACTIVITY"}
        )
        wrong = await sim.client.post(
            "/v2/timesheet/entry",
            auth=tenant.auth,
            json=_entry(project, general.json()["value"]["id"], employee, "2026-03-03"),
        )
        assert wrong.status_code == 422
        assert wrong.json()["validationMessages"][0]["field"] == "activity"

        usable = await sim.client.get(
            "/v2/activity/>forTimeSheet", auth=tenant.auth, params={"projectId": project, "fields": "name"}
        )
        assert usable.json()["values"] == [{"name": "Montering"}]

        stale_delete = await sim.client.delete(
            f"/v2/timesheet/entry/{entry['id']}", auth=tenant.auth, params={"version": 0}
        )
        assert stale_delete.status_code == 409


async def test_batch_post_is_all_or_nothing_and_locked_entries_are_read_only() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        project, activity, employee = await _setup(sim, tenant)
        batch = [_entry(project, activity, employee, f"2026-04-0{d}") for d in (1, 2, 3)]
        created = await sim.client.post("/v2/timesheet/entry/list", auth=tenant.auth, json=batch)
        assert created.status_code == 201
        assert created.json()["count"] == 3
        failing = [
            _entry(project, activity, employee, "2026-04-09"),
            _entry(project, activity, employee, "2026-04-01"),
        ]
        rejected = await sim.client.post("/v2/timesheet/entry/list", auth=tenant.auth, json=failing)
        assert rejected.status_code == 422
        assert rejected.json()["validationMessages"][0]["path"].startswith("[1]")
        window = {"dateFrom": "2026-04-01", "dateTo": "2026-05-01"}
        assert (await sim.client.get("/v2/timesheet/entry", auth=tenant.auth, params=window)).json()[
            "count"
        ] == 3

        entry_id = created.json()["values"][0]["id"]
        await sim.client.put(f"/_sim/companies/{tenant.company.id}/timesheet/{entry_id}/lock")
        locked = await sim.client.delete(f"/v2/timesheet/entry/{entry_id}", auth=tenant.auth)
        assert locked.status_code == 422
