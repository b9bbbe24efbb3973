"""Rate limiting (429 without X-Rate-Limit-Reset) and injected faults."""

from __future__ import annotations

from services.tripletex.simulator.state import SimulatorState
from services.tripletex.simulator.testing import SimulatorHarness


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_budget_spent_means_429_for_the_rest_of_the_period() -> None:
    clock = FakeMonotonic()
    async with SimulatorHarness(SimulatorState(monotonic=clock)) as sim:
        tenant = await sim.tenant()
        await sim.client.put(
            f"/_sim/companies/{tenant.company.id}/faults", json={"rateLimit": 3, "ratePeriodSeconds": 60}
        )
        responses = [await sim.client.get("/v2/project", auth=tenant.auth) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert [r.headers["X-Rate-Limit-Remaining"] for r in responses] == ["2", "1", "0"]
        assert responses[0].headers["X-Rate-Limit-Limit"] == "3"
        assert responses[0].headers["X-Rate-Limit-Reset"] == "60"

        clock.now += 30
        limited = await sim.client.get("/v2/project", auth=tenant.auth)
        assert limited.status_code == 429
        assert "X-Rate-Limit-Reset" not in limited.headers
        assert limited.headers["X-Rate-Limit-Remaining"] == "0"
        assert limited.json()["status"] == 429
        assert limited.json()["requestId"] == limited.headers["x-tlx-request-id"]
        assert (
            await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "x"})
        ).status_code == 429

        clock.now += 31
        recovered = await sim.client.get("/v2/project", auth=tenant.auth)
        assert recovered.status_code == 200
        assert recovered.headers["X-Rate-Limit-Remaining"] == "2"


async def test_budget_is_per_token_pair() -> None:
    async with SimulatorHarness() as sim:
        first = await sim.tenant("En AS")
        second = await sim.tenant("To AS")
        await sim.client.put(f"/_sim/companies/{first.company.id}/faults", json={"rateLimit": 1})
        assert (await sim.client.get("/v2/project", auth=first.auth)).status_code == 200
        assert (await sim.client.get("/v2/project", auth=first.auth)).status_code == 429
        assert (await sim.client.get("/v2/project", auth=second.auth)).status_code == 200


async def test_injected_server_errors_and_latency() -> None:
    async with SimulatorHarness() as sim:
        tenant = await sim.tenant()
        await sim.client.put(f"/_sim/companies/{tenant.company.id}/faults", json={"errorRate": 1.0})
        failed = await sim.client.post("/v2/customer", auth=tenant.auth, json={"name": "Aldri"})
        assert failed.status_code == 500
        assert failed.json()["code"] == 1000
        assert "X-Rate-Limit-Remaining" in failed.headers
        await sim.client.put(
            f"/_sim/companies/{tenant.company.id}/faults", json={"errorRate": 0, "latencyMs": 20}
        )
        listed = await sim.client.get("/v2/customer", auth=tenant.auth)
        assert listed.status_code == 200 and listed.json()["values"] == []


async def test_admin_create_company_and_dump() -> None:
    async with SimulatorHarness() as sim:
        created = await sim.client.post("/_sim/companies", json={"name": "Admin AS"})
        assert created.status_code == 201
        summary = created.json()
        session = await sim.client.post(
            "/v2/token/session/:create",
            json={
                "consumerToken": summary["consumerToken"],
                "employeeToken": summary["employeeToken"],
                "expirationDate": "2099-12-31",
            },
        )
        assert session.status_code == 201
        dump = (await sim.client.get(f"/_sim/companies/{summary['id']}")).json()
        assert {a["number"] for a in dump["data"]["Account"]} >= {1500, 1920, 3000}
        await sim.client.post("/_sim/reset")
        assert (await sim.client.get("/_sim/companies")).json() == []
