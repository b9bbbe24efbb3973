"""The simulator's HTTP contract, exercised with raw requests (no client in between)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from services.svenn.simulator.testing import BASE_URL, Sim


def _http(sim: Sim, api_key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=BASE_URL, headers=headers)


async def test_missing_or_wrong_key_is_401_with_json_error(sim: Sim, tenant: tuple[str, str]) -> None:
    for key in (None, "svn_test_wrong", f"{tenant[1]}x"):
        async with _http(sim, key) as http:
            r = await http.get("/api/v1/projects")
        assert r.status_code == 401
        body = r.json()["error"]
        assert body["code"] == "UNAUTHORIZED"
        assert body["request_id"] == r.headers["X-Request-Id"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_tenants_are_isolated(sim: Sim) -> None:
    _, key_a = await sim.tenant()
    _, key_b = await sim.tenant()
    async with _http(sim, key_a) as a, _http(sim, key_b) as b:
        created = (await a.post("/api/v1/customers", json={"name": "Kun A", "customer_number": "1"})).json()
        assert (await b.get("/api/v1/customers")).json()["data"] == []
        assert (await b.get(f"/api/v1/customers/{created['id']}")).status_code == 404
        assert (await b.patch(f"/api/v1/customers/{created['id']}", json={"name": "x"})).status_code == 404
        # Numbers are unique per tenant, not globally.
        assert (
            await b.post("/api/v1/customers", json={"name": "B", "customer_number": "1"})
        ).status_code == 201


async def test_validation_errors_are_422_with_field_messages(sim: Sim, tenant: tuple[str, str]) -> None:
    async with _http(sim, tenant[1]) as http:
        r = await http.post(
            "/api/v1/projects",
            json={"name": "", "start_date": "2024-13-01", "surprise": 1},
        )
        assert r.status_code == 422
        fields = {d["field"] for d in r.json()["error"]["details"]}
        assert fields == {"name", "start_date", "surprise"}

        r = await http.post(
            "/api/v1/projects",
            json={
                "name": "Bakvendt",
                "start_date": "2024-05-01",
                "end_date": "2024-04-01",
                "member_ids": ["emp_x"],
            },
        )
        assert r.status_code == 422
        assert {d["field"] for d in r.json()["error"]["details"]} == {"end_date", "member_ids.0"}

        r = await http.post(
            "/api/v1/projects", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422


async def test_s_p2_subproject_reuses_parent_display_id_but_top_level_ids_are_unique(
    sim: Sim, tenant: tuple[str, str]
) -> None:
    async with _http(sim, tenant[1]) as http:
        parent = (await http.post("/api/v1/projects", json={"display_id": "2024.17", "name": "Hoved"})).json()
        sub = (await http.post("/api/v1/projects", json={"name": "Under", "parent_id": parent["id"]})).json()
        assert sub["display_id"] == "2024.17"
        assert sub["parent_id"] == parent["id"]
        dup = await http.post("/api/v1/projects", json={"display_id": "2024.17", "name": "Kopi"})
        assert dup.status_code == 409
        assert dup.json()["error"]["code"] == "DUPLICATE_DISPLAY_ID"
        assert dup.json()["error"]["conflicting_id"] == parent["id"]
        both = (await http.get("/api/v1/projects", params={"display_id": "2024.17"})).json()["data"]
        assert {p["id"] for p in both} == {parent["id"], sub["id"]}


async def test_s_p6_s_c1_numbers_stay_strings(sim: Sim, tenant: tuple[str, str]) -> None:
    async with _http(sim, tenant[1]) as http:
        p = (await http.post("/api/v1/projects", json={"display_id": "A12.3", "name": "x"})).json()
        c = (await http.post("/api/v1/customers", json={"customer_number": "K-17", "name": "y"})).json()
        z = (await http.post("/api/v1/customers", json={"customer_number": "007", "name": "z"})).json()
    assert p["display_id"] == "A12.3"
    assert c["customer_number"] == "K-17"
    assert z["customer_number"] == "007"


async def test_soft_delete_is_a_status_and_listable_with_a_filter(sim: Sim, tenant: tuple[str, str]) -> None:
    async with _http(sim, tenant[1]) as http:
        c = (await http.post("/api/v1/customers", json={"name": "Borte AS"})).json()
        deleted = await http.delete(f"/api/v1/customers/{c['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["status"] == "deleted"
        assert deleted.json()["version"] == 2
        again = await http.delete(f"/api/v1/customers/{c['id']}")
        assert again.json()["version"] == 2  # repeating a delete changes nothing
        assert (await http.get("/api/v1/customers")).json()["data"] == []
        listed = (await http.get("/api/v1/customers", params={"status": "deleted"})).json()["data"]
        assert [x["id"] for x in listed] == [c["id"]]
        assert (
            len((await http.get("/api/v1/customers", params={"include_deleted": "true"})).json()["data"]) == 1
        )
        assert (await http.patch(f"/api/v1/customers/{c['id']}", json={"name": "Igjen"})).status_code == 409
        # Employees have no deletion, only inactive.
        e = (await http.post("/api/v1/employees", json={"first_name": "Ola"})).json()
        assert (await http.delete(f"/api/v1/employees/{e['id']}")).status_code == 405


async def test_updated_since_returns_changes_at_or_after_the_instant(
    sim: Sim, tenant: tuple[str, str]
) -> None:
    async with _http(sim, tenant[1]) as http:
        old = (await http.post("/api/v1/employees", json={"first_name": "Gammel"})).json()
        new = (await http.post("/api/v1/employees", json={"first_name": "Ny"})).json()
        r = await http.get("/api/v1/employees", params={"updated_since": new["updated_at"]})
        assert [e["id"] for e in r.json()["data"]] == [new["id"]]
        changed = (await http.patch(f"/api/v1/employees/{old['id']}", json={"last_name": "Hansen"})).json()
        r = await http.get("/api/v1/employees", params={"updated_since": new["updated_at"]})
        assert {e["id"] for e in r.json()["data"]} == {old["id"], new["id"]}
        assert changed["updated_at"] > new["updated_at"]
        naive = await http.get("/api/v1/employees", params={"updated_since": "2026-01-01T00:00:00"})
        assert naive.status_code == 422


async def test_stale_if_match_is_412_and_noop_patch_changes_nothing(
    sim: Sim, tenant: tuple[str, str]
) -> None:
    async with _http(sim, tenant[1]) as http:
        p = (await http.post("/api/v1/projects", json={"name": "Låst"})).json()
        assert p["version"] == 1
        ok = await http.patch(
            f"/api/v1/projects/{p['id']}", json={"name": "Låst 2"}, headers={"If-Match": '"1"'}
        )
        assert ok.status_code == 200
        assert ok.headers["ETag"] == '"2"'
        stale = await http.patch(
            f"/api/v1/projects/{p['id']}", json={"name": "Låst 3"}, headers={"If-Match": "1"}
        )
        assert stale.status_code == 412
        assert stale.json()["error"]["code"] == "VERSION_CONFLICT"
        assert stale.json()["error"]["current_version"] == 2
        same = await http.patch(f"/api/v1/projects/{p['id']}", json={"name": "Låst 2"})
        assert same.json()["version"] == 2  # no change, no new version (and no webhook)
        bad = await http.patch(f"/api/v1/projects/{p['id']}", json={"name": "x"}, headers={"If-Match": "abc"})
        assert bad.status_code == 400


async def test_cursor_pagination_is_stable_while_records_are_added(sim: Sim, tenant: tuple[str, str]) -> None:
    async with _http(sim, tenant[1]) as http:
        for i in range(7):
            await http.post("/api/v1/employees", json={"first_name": f"E{i}"})
        first = (await http.get("/api/v1/employees", params={"limit": 3})).json()
        assert len(first["data"]) == 3 and first["has_more"]
        await http.post("/api/v1/employees", json={"first_name": "Sent"})
        seen = [e["first_name"] for e in first["data"]]
        cursor = first["next_cursor"]
        while cursor:
            page = (await http.get("/api/v1/employees", params={"limit": 3, "cursor": cursor})).json()
            seen += [e["first_name"] for e in page["data"]]
            cursor = page["next_cursor"]
        assert seen == [f"E{i}" for i in range(7)] + ["Sent"]
        assert (await http.get("/api/v1/employees", params={"cursor": "garbage!"})).status_code == 422
        assert (await http.get("/api/v1/employees", params={"limit": 1000})).status_code == 422


async def test_idempotency_key_replays_the_first_answer(sim: Sim, tenant: tuple[str, str]) -> None:
    async with _http(sim, tenant[1]) as http:
        body: dict[str, Any] = {"name": "Én gang", "customer_number": "55"}
        one = await http.post("/api/v1/customers", json=body, headers={"Idempotency-Key": "cmd-1"})
        two = await http.post("/api/v1/customers", json=body, headers={"Idempotency-Key": "cmd-1"})
        assert one.status_code == two.status_code == 201
        assert one.json() == two.json()
        assert two.headers["Idempotent-Replayed"] == "true"
        other = await http.post(
            "/api/v1/customers", json={**body, "name": "Annet"}, headers={"Idempotency-Key": "cmd-1"}
        )
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert len((await http.get("/api/v1/customers")).json()["data"]) == 1


async def test_rate_limit_is_per_tenant_with_retry_after(sim: Sim) -> None:
    name_a, key_a = await sim.tenant()
    _, key_b = await sim.tenant()
    await sim.faults(name_a, rate_limit={"limit": 2, "period_seconds": 30})
    async with _http(sim, key_a) as a, _http(sim, key_b) as b:
        codes = [(await a.get("/api/v1/projects")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = await a.get("/api/v1/projects")
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert (await b.get("/api/v1/projects")).status_code == 200


async def test_admin_controls_dump_faults_reset(sim: Sim) -> None:
    r = await sim.admin.post("/_sim/tenants", json={"name": "seeded", "seed": True})
    key = r.json()["api_key"]
    assert (await sim.admin.post("/_sim/tenants", json={"name": "seeded"})).status_code == 409
    assert (await sim.admin.post("/_sim/tenants", json={"name": "Bad Name"})).status_code == 422
    dump = (await sim.admin.get("/_sim/tenants/seeded/dump")).json()
    assert {p["display_id"] for p in dump["projects"]} == {"2024.17", "A12.3"}
    assert any(c["customer_number"] == "K-17" for c in dump["customers"])
    assert any(e["last_name"] is None for e in dump["employees"])

    await sim.faults("seeded", fail_next=1, error_status=502)
    async with _http(sim, key) as http:
        assert (await http.get("/api/v1/projects")).status_code == 502
        assert (await http.get("/api/v1/projects")).status_code == 200
    faults = (await sim.admin.get("/_sim/tenants/seeded/faults")).json()
    assert faults["fail_next_remaining"] == 0

    assert (await sim.admin.post("/_sim/tenants/seeded/reset")).status_code == 204
    assert (await sim.admin.get("/_sim/tenants/seeded/dump")).json()["projects"] == []
    assert (await sim.admin.post("/_sim/reset")).status_code == 204
    assert (await sim.admin.get("/_sim/tenants")).json()["data"] == []
    assert (await sim.admin.get("/_sim/tenants/seeded/dump")).status_code == 404


async def test_latency_and_random_error_rate_faults(sim: Sim, tenant: tuple[str, str]) -> None:
    name, key = tenant
    await sim.faults(name, latency_ms=60)
    async with _http(sim, key) as http:
        started = time.perf_counter()
        assert (await http.get("/api/v1/projects")).status_code == 200
        assert time.perf_counter() - started >= 0.06
        await sim.faults(name, error_rate=0.5, seed=7)
        codes = [(await http.get("/api/v1/projects")).status_code for _ in range(40)]
        assert 5 < codes.count(503) < 35 and codes.count(200) == 40 - codes.count(503)
        await sim.faults(name, error_rate=0.5, seed=7)
        again = [(await http.get("/api/v1/projects")).status_code for _ in range(40)]
        assert again == codes  # seeded: reproducible
        assert (await sim.admin.delete(f"/_sim/tenants/{name}/faults")).status_code == 204
        assert (await http.get("/api/v1/projects")).status_code == 200
