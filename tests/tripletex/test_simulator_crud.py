"""Versioning, validation messages, paging and `fields` on project/customer/employee."""

from __future__ import annotations

from typing import Any

from services.tripletex.simulator.testing import SimulatorHarness, Tenant


def _project(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Bad på Nordstrand",
        "projectManager": {"id": tenant.company.api_employee_id},
        "startDate": "2026-03-01",
    }
    body.update(extra)
    return body


def _fields(response: Any) -> dict[str, str]:
    return {m["field"]: m["message"] for m in response.json()["validationMessages"]}


async def test_version_increments_and_stale_version_is_409_8000() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        created = (await sim.client.post("/v2/project", auth=tenant.auth, json=_project(tenant))).json()[
            "value"
        ]
        assert created["version"] == 0
        pid = created["id"]

        first = await sim.client.put(
            f"/v2/project/{pid}", auth=tenant.auth, json={"version": 0, "name": "Nytt"}
        )
        assert first.status_code == 200
        assert first.json()["value"]["version"] == 1
        assert first.json()["value"]["startDate"] == "2026-03-01"  # PUT is partial

        stale = await sim.client.put(f"/v2/project/{pid}", auth=tenant.auth, json={"version": 0, "name": "X"})
        assert stale.status_code == 409
        assert stale.json()["code"] == 8000
        assert stale.json()["requestId"] == stale.headers["x-tlx-request-id"]

        blind = await sim.client.put(f"/v2/project/{pid}", auth=tenant.auth, json={"name": "Sist vinner"})
        assert blind.status_code == 200
        assert blind.json()["value"]["version"] == 2

        unchanged = await sim.client.put(f"/v2/project/{pid}", auth=tenant.auth, json={"name": "Sist vinner"})
        assert unchanged.json()["value"]["version"] == 2


async def test_project_required_fields_have_field_names_and_norwegian_messages() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        response = await sim.client.post("/v2/project", auth=tenant.auth, json={"description": "uten alt"})
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == 18000
        assert _fields(response) == {
            "name": "Kan ikke være null.",
            "projectManager": "Kan ikke være null.",
            "startDate": "Feltet må fylles ut.",
        }
        assert all(m["path"] and "rootId" in m for m in body["validationMessages"])


async def test_duplicate_project_number_is_rejected_and_numbers_are_strings() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        first = await sim.client.post(
            "/v2/project", auth=tenant.auth, json=_project(tenant, number="2024.17")
        )
        assert first.json()["value"]["number"] == "2024.17"
        again = await sim.client.post(
            "/v2/project", auth=tenant.auth, json=_project(tenant, number="2024.17")
        )
        assert again.status_code == 422
        assert _fields(again) == {"number": "Nummeret er i bruk."}
        generated = await sim.client.post("/v2/project", auth=tenant.auth, json=_project(tenant))
        assert generated.json()["value"]["number"] == "1"
        found = await sim.client.get("/v2/project", auth=tenant.auth, params={"number": "2024.17"})
        assert [p["number"] for p in found.json()["values"]] == ["2024.17"]
        by_number = await sim.client.get("/v2/project/number/2024.17", auth=tenant.auth)
        assert by_number.json()["value"]["id"] == first.json()["value"]["id"]


async def test_unknown_field_id_on_post_and_bad_json() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        unknown = await sim.client.post(
            "/v2/project", auth=tenant.auth, json=_project(tenant, fixedPrice=100)
        )
        assert unknown.status_code == 422
        assert _fields(unknown) == {"fixedPrice": "Feltet eksisterer ikke i objektet."}

        with_id = await sim.client.post(
            "/v2/customer", auth=tenant.auth, json={"id": 5, "name": "K", "version": 1}
        )
        assert with_id.status_code == 422
        assert set(_fields(with_id)) == {"id", "version"}

        broken = await sim.client.post(
            "/v2/customer",
            auth=tenant.auth,
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 422
        assert broken.json()["code"] == 22000


async def test_employee_and_customer_required_fields() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        employee = await sim.client.post(
            "/v2/employee", auth=tenant.auth, json={"firstName": "Kari", "userType": "STANDARD"}
        )
        assert employee.status_code == 422
        assert _fields(employee) == {"lastName": "Kan ikke være null."}
        customer = await sim.client.post("/v2/customer", auth=tenant.auth, json={"email": "a@b.no"})
        assert _fields(customer) == {"name": "Kan ikke være null."}

        ok = await sim.client.post(
            "/v2/employee",
            auth=tenant.auth,
            json={"firstName": "Kari", "lastName": "Nordmann", "email": "kari@x.no", "userType": "STANDARD"},
        )
        assert ok.status_code == 201
        dup = await sim.client.post(
            "/v2/employee",
            auth=tenant.auth,
            json={"firstName": "K", "lastName": "N", "email": "KARI@x.no", "userType": "STANDARD"},
        )
        assert _fields(dup) == {"email": "Det finnes allerede en bruker med denne e-postadressen"}


async def test_pagination_and_fields_selection() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        for i in range(5):
            await sim.client.post("/v2/project", auth=tenant.auth, json=_project(tenant, name=f"P{i}"))
        page = await sim.client.get("/v2/project", auth=tenant.auth, params={"from": 2, "count": 2})
        body = page.json()
        assert (body["fullResultSize"], body["from"], body["count"]) == (5, 2, 2)
        assert [p["name"] for p in body["values"]] == ["P2", "P3"]
        assert "versionDigest" in body

        narrow = await sim.client.get(
            "/v2/project", auth=tenant.auth, params={"fields": "id,name", "count": 1}
        )
        assert set(narrow.json()["values"][0]) == {"id", "name"}

        default = (await sim.client.get("/v2/project", auth=tenant.auth, params={"count": 1})).json()[
            "values"
        ][0]
        assert set(default["projectManager"]) == {"id", "url"}
        assert "changes" not in default

        nested = await sim.client.get(
            "/v2/project",
            auth=tenant.auth,
            params={"fields": "name,projectManager(firstName,lastName),changes"},
        )
        first = nested.json()["values"][0]
        assert first["projectManager"] == {"firstName": "API", "lastName": "Bruker"}
        assert first["changes"][0]["changeType"] == "CREATE"

        star = await sim.client.get("/v2/project", auth=tenant.auth, params={"fields": "*,projectManager(*)"})
        manager = star.json()["values"][0]["projectManager"]
        assert manager["displayName"] == "API Bruker"
        assert set(manager["department"]) == {"id", "url"}

        illegal = await sim.client.get("/v2/project", auth=tenant.auth, params={"fields": "id,fixedPrice"})
        assert illegal.status_code == 400
        assert illegal.json()["message"] == "Illegal field in fields filter: fixedPrice"

        sorted_desc = await sim.client.get(
            "/v2/project", auth=tenant.auth, params={"sorting": "-name", "fields": "name"}
        )
        assert [p["name"] for p in sorted_desc.json()["values"]] == ["P4", "P3", "P2", "P1", "P0"]


async def test_version_digest_and_304() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "A"})
        first = await sim.client.get("/v2/customer", auth=tenant.auth, headers={"If-None-Match": "x"})
        digest = first.json()["versionDigest"]
        assert digest
        again = await sim.client.get("/v2/customer", auth=tenant.auth, headers={"If-None-Match": digest})
        assert again.status_code == 304


async def test_customer_search_hides_inactive_unless_asked() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "Aktiv", "customerNumber": 100})
        await sim.client.post(
            "/v2/customer",
            auth=tenant.auth,
            json={"name": "Sovende", "customerNumber": 101, "isInactive": True},
        )
        default = await sim.client.get(
            "/v2/customer", auth=tenant.auth, params={"customerAccountNumber": "100,101"}
        )
        assert [c["name"] for c in default.json()["values"]] == ["Aktiv"]
        inactive = await sim.client.get(
            "/v2/customer", auth=tenant.auth, params={"customerAccountNumber": "101", "isInactive": "true"}
        )
        assert [c["name"] for c in inactive.json()["values"]] == ["Sovende"]
        duplicate = await sim.client.post(
            "/v2/customer", auth=tenant.auth, json={"name": "X", "customerNumber": 100}
        )
        assert _fields(duplicate) == {"customerNumber": "Nummeret er i bruk."}


async def test_employee_search_by_number_and_email() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        await sim.client.post(
            "/v2/employee",
            auth=tenant.auth,
            json={
                "firstName": "Ola",
                "lastName": "N",
                "employeeNumber": "E7",
                "email": "ola@ex.no",
                "userType": "STANDARD",
            },
        )
        by_number = await sim.client.get("/v2/employee", auth=tenant.auth, params={"employeeNumber": "E7"})
        assert [e["firstName"] for e in by_number.json()["values"]] == ["Ola"]
        by_email = await sim.client.get("/v2/employee", auth=tenant.auth, params={"email": "ola@"})
        assert [e["employeeNumber"] for e in by_email.json()["values"]] == ["E7"]


async def test_participants_and_project_activities_show_on_the_project() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        project = (await sim.client.post("/v2/project", auth=tenant.auth, json=_project(tenant))).json()[
            "value"
        ]
        participant = await sim.client.post(
            "/v2/project/participant",
            auth=tenant.auth,
            json={"project": {"id": project["id"]}, "employee": {"id": tenant.company.api_employee_id}},
        )
        assert participant.status_code == 201
        linked = await sim.client.post(
            "/v2/project/projectActivity",
            auth=tenant.auth,
            json={"project": {"id": project["id"]}, "activity": {"name": "Rørarbeid", "isChargeable": True}},
        )
        assert linked.status_code == 201
        read = await sim.client.get(
            f"/v2/project/{project['id']}",
            auth=tenant.auth,
            params={
                "fields": "participants(id,employee(id),adminAccess),"
                "projectActivities(activity(name,activityType))"
            },
        )
        value = read.json()["value"]
        assert value["participants"][0]["employee"] == {"id": tenant.company.api_employee_id}
        assert value["projectActivities"][0]["activity"] == {
            "name": "Rørarbeid",
            "activityType": "PROJECT_SPECIFIC_ACTIVITY",
        }
        missing_ref = await sim.client.post(
            "/v2/project/participant",
            auth=tenant.auth,
            json={"project": {"id": 999999}, "employee": {"id": tenant.company.api_employee_id}},
        )
        assert missing_ref.status_code == 422
        assert missing_ref.json()["validationMessages"][0]["field"] == "project.id"


async def test_dates_must_be_iso_and_references_must_be_in_the_same_company() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        other = await sim.tenant("Annen AS")
        bad_date = await sim.client.post(
            "/v2/project", auth=tenant.auth, json=_project(tenant, startDate="01.03.2026")
        )
        assert bad_date.status_code == 422
        assert _fields(bad_date) == {"startDate": "Verdien har feil format."}
        foreign = await sim.client.post(
            "/v2/project",
            auth=tenant.auth,
            json=_project(tenant, projectManager={"id": other.company.api_employee_id}),
        )
        assert foreign.status_code == 422
        assert _fields(foreign) == {"projectManager.id": "Objektet finnes ikke."}


async def test_put_list_with_a_stale_version_changes_nothing() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        first = (await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "A"})).json()["value"]
        second = (await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "B"})).json()["value"]
        await sim.client.put(f"/v2/customer/{second['id']}", auth=tenant.auth, json={"name": "B2"})
        batch = [
            {"id": first["id"], "version": 0, "name": "A-ny"},
            {"id": second["id"], "version": 0, "name": "B-ny"},
        ]
        response = await sim.client.put("/v2/customer/list", auth=tenant.auth, json=batch)
        assert response.status_code == 409
        assert response.json()["code"] == 8000
        unchanged = await sim.client.get(f"/v2/customer/{first['id']}", auth=tenant.auth)
        assert unchanged.json()["value"]["name"] == "A"
        assert unchanged.json()["value"]["version"] == 0
