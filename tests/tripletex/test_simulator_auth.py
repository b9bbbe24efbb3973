"""Sessions and auth (REFERENCE §1): 201/200 minting, expiry semantics, 401 code 3000."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from services.tripletex.simulator.state import SimulatorState
from services.tripletex.simulator.testing import SimulatorHarness


async def test_post_session_returns_201_and_token_works_with_user_zero() -> None:
    async with SimulatorHarness() as sim:
        company = sim.state.create_company("Auth AS")
        expiration = (sim.state.today_in_oslo() + timedelta(days=7)).isoformat()
        created = await sim.client.post(
            "/v2/token/session/:create",
            json={
                "consumerToken": company.consumer_token,
                "employeeToken": company.employee_token,
                "expirationDate": expiration,
            },
        )
        assert created.status_code == 201
        session = created.json()["value"]
        assert session["expirationDate"] == expiration
        assert "-" not in session["token"]

        who = await sim.client.get("/v2/token/session/>whoAmI", auth=("0", session["token"]))
        assert who.status_code == 200
        assert who.json()["value"]["companyId"] == company.id
        assert who.json()["value"]["employeeId"] == company.api_employee_id
        assert who.headers["x-tlx-request-id"]


async def test_legacy_put_session_returns_200() -> None:
    async with SimulatorHarness() as sim:
        company = sim.state.create_company("Legacy AS")
        expiration = (sim.state.today_in_oslo() + timedelta(days=2)).isoformat()
        response = await sim.client.put(
            "/v2/token/session/:create",
            params={
                "consumerToken": company.consumer_token,
                "employeeToken": company.employee_token,
                "expirationDate": expiration,
            },
        )
        assert response.status_code == 200
        assert response.json()["value"]["token"]


async def test_omitted_expiration_date_is_422_not_null() -> None:
    async with SimulatorHarness() as sim:
        company = sim.state.create_company("Nullable AS")
        response = await sim.client.post(
            "/v2/token/session/:create",
            json={"consumerToken": company.consumer_token, "employeeToken": company.employee_token},
        )
        assert response.status_code == 422
        messages = response.json()["validationMessages"]
        assert {"field": "expirationDate", "message": "Kan ikke være null."}.items() <= messages[0].items()


async def test_expiration_today_mints_a_token_that_is_already_expired() -> None:
    async with SimulatorHarness() as sim:
        company = sim.state.create_company("Today AS")
        created = await sim.client.post(
            "/v2/token/session/:create",
            json={
                "consumerToken": company.consumer_token,
                "employeeToken": company.employee_token,
                "expirationDate": sim.state.today_in_oslo().isoformat(),
            },
        )
        assert created.status_code == 201
        response = await sim.client.get("/v2/project", auth=("0", created.json()["value"]["token"]))
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == 401 and body["code"] == 3000
        assert body["requestId"] == response.headers["x-tlx-request-id"]


async def test_missing_or_wrong_credentials_are_401() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        assert (await sim.client.get("/v2/project")).status_code == 401
        assert (await sim.client.get("/v2/project", auth=("0", "not-a-token"))).status_code == 401
        other_company = str(tenant.company.id + 999)
        assert (await sim.client.get("/v2/project", auth=(other_company, tenant.token))).status_code == 401
        assert (await sim.client.get("/v2/project", auth=("", tenant.token))).status_code == 200


async def test_wrong_consumer_token_is_422() -> None:
    async with SimulatorHarness() as sim:
        company = sim.state.create_company("Consumer AS")
        response = await sim.client.post(
            "/v2/token/session/:create",
            json={
                "consumerToken": "prod-token",
                "employeeToken": company.employee_token,
                "expirationDate": "2099-01-01",
            },
        )
        assert response.status_code == 422
        assert (
            response.json()["validationMessages"][0]["message"]
            == "The consumer token is invalid or does not exist"
        )


async def test_companies_are_isolated() -> None:
    async with SimulatorHarness() as sim:
        first = await sim.tenant("Første AS")
        second = await sim.tenant("Andre AS")
        created = await sim.client.post(
            "/v2/customer", auth=first.auth, json={"name": "Kunde", "customerNumber": 50000}
        )
        customer_id = created.json()["value"]["id"]
        assert (await sim.client.get(f"/v2/customer/{customer_id}", auth=second.auth)).status_code == 404
        listed = await sim.client.get(
            "/v2/customer", auth=second.auth, params={"customerAccountNumber": "50000"}
        )
        assert listed.json()["values"] == []


async def test_deleted_session_is_401() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        deleted = await sim.client.delete(f"/v2/token/session/{tenant.token}", auth=tenant.auth)
        assert deleted.status_code == 204
        response = await sim.client.get("/v2/project", auth=httpx.BasicAuth("0", tenant.token))
        assert response.status_code == 401


async def test_token_stops_working_at_midnight_oslo_on_the_expiration_date() -> None:
    now = [datetime(2026, 6, 1, 12, 0, tzinfo=UTC)]
    async with SimulatorHarness(SimulatorState(clock=lambda: now[0])) as sim:
        company = sim.state.create_company("Midnatt AS")
        token = await sim.session(company, days=1)  # expirationDate = 2026-06-02
        assert (await sim.client.get("/v2/project", auth=("0", token))).status_code == 200
        now[0] = datetime(2026, 6, 1, 21, 59, tzinfo=UTC)  # 23:59 in Oslo (CEST)
        assert (await sim.client.get("/v2/project", auth=("0", token))).status_code == 200
        now[0] = datetime(2026, 6, 1, 22, 0, tzinfo=UTC)  # midnight in Oslo
        assert (await sim.client.get("/v2/project", auth=("0", token))).status_code == 401
