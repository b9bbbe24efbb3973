"""Client <-> simulator: sessions, optimistic locking, rate limits, faults, errors, paging, schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.tripletex.client import (
    ClientSettings,
    RetryPolicy,
    TripletexAuthError,
    TripletexClient,
    TripletexValidationError,
)
from services.tripletex.client.models import Activity, Customer, Project, Ref

from .conftest import (
    ClientRecordingTransport,
    ClientSimClock,
    ClientVirtualTime,
    client_make_sim_client,
    client_query_problems,
    client_schema_problems,
)


@pytest.fixture(autouse=True)
def _client_requests_match_the_spec(client_sim_transport: ClientRecordingTransport) -> Iterator[None]:
    """After each test: every body and query sent to the simulator is valid per the subset."""
    yield
    problems = client_schema_problems(client_sim_transport.sent)
    problems += client_query_problems(client_sim_transport.requests)
    assert problems == []


async def _manager(client: TripletexClient) -> int:
    me = await client.who_am_i()
    assert me.employee_id is not None
    return me.employee_id


def _project(number: str, manager: int, **kw: Any) -> Project:
    return Project(
        name=f"Prosjekt {number}",
        number=number,
        project_manager=Ref.to(manager),
        start_date=dt.date(2026, 11, 1),
        is_internal=False,
        **kw,
    )


async def test_who_am_i_over_a_fresh_session(
    client_sim: TripletexClient, client_sim_company: dict[str, Any]
) -> None:
    me = await client_sim.who_am_i()
    assert me.employee_id == client_sim_company["apiEmployeeId"]
    assert me.company_id == client_sim_company["id"]
    assert client_sim.sessions.mint_count == 1


async def test_expired_session_gets_401_then_reminted_and_call_succeeds(
    client_sim_transport: ClientRecordingTransport,
    client_sim_company: dict[str, Any],
    client_sim_clock: ClientSimClock,
    client_time: ClientVirtualTime,
) -> None:
    client_now = [client_sim_clock.now]
    async with client_make_sim_client(
        client_sim_transport, client_sim_company, client_time, clock=lambda: client_now[0]
    ) as client:
        await client.who_am_i()
        # Tripletex ends the session (expiry at midnight on expirationDate, or revoked) while
        # the client still believes it has two days left: only a 401 can tell it.
        client_sim_clock.now += dt.timedelta(days=7)
        client_now[0] += dt.timedelta(days=5)
        me = await client.who_am_i()
        assert me.employee_id == client_sim_company["apiEmployeeId"]
        assert client.sessions.mint_count == 2
        assert 401 in client_sim_transport.statuses


async def test_409_revision_race_is_resolved_by_reapplying_the_change(
    client_sim: TripletexClient,
    client_sim_transport: ClientRecordingTransport,
    client_sim_company: dict[str, Any],
    client_sim_app: Any,
    client_time: ClientVirtualTime,
) -> None:
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("R-1", manager))).record
    assert project.id is not None
    other_transport = httpx.ASGITransport(app=client_sim_app)
    other = client_make_sim_client(other_transport, client_sim_company, client_time)
    raced: list[int] = []

    async def change_behind_the_back(request: httpx.Request) -> None:
        if request.method == "PUT" and request.url.path == f"/v2/project/{project.id}" and not raced:
            raced.append(1)
            await other.projects.update(project.id or 0, lambda p: setattr(p, "description", "fra Tripletex"))

    client_sim_transport.before = change_behind_the_back

    def rename(p: Project) -> None:
        p.name = "Nytt navn"

    updated = await client_sim.projects.update(project.id, rename)
    assert updated.name == "Nytt navn"
    assert updated.description == "fra Tripletex"  # the other writer's change survived
    assert 409 in client_sim_transport.statuses
    assert client_sim_transport.count("PUT", f"/v2/project/{project.id}") == 2
    await other.aclose()


async def test_update_that_changes_nothing_sends_nothing(
    client_sim: TripletexClient, client_sim_transport: ClientRecordingTransport
) -> None:
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("N-1", manager))).record
    assert project.id is not None
    await client_sim.projects.update(project.id, lambda p: setattr(p, "name", project.name))
    assert client_sim_transport.count("PUT", f"/v2/project/{project.id}") == 0


async def test_429_burst_is_absorbed_without_losing_or_doubling_a_write(
    client_sim_admin: httpx.AsyncClient,
    client_sim_company: dict[str, Any],
    client_sim_transport: ClientRecordingTransport,
    client_sim_app: Any,
    client_time: ClientVirtualTime,
) -> None:
    response = await client_sim_admin.put(
        f"/_sim/companies/{client_sim_company['id']}/faults", json={"rateLimit": 4, "ratePeriodSeconds": 2}
    )
    assert response.status_code == 200
    # Production-like backoff (1 s doubling); the clock is virtual, so it costs no real time.
    settings = ClientSettings(retry=RetryPolicy(rate_limit_base_seconds=1.0, server_error_base_seconds=0.01))
    client = client_make_sim_client(client_sim_transport, client_sim_company, client_time, settings=settings)
    # Another process with the same tokens (so the same budget) spends all of it. Our client
    # has seen no headers yet, so its first call is a 429 without X-Rate-Limit-Reset
    # (tripletex-api2#103) and it must back off blindly.
    other = client_make_sim_client(httpx.ASGITransport(app=client_sim_app), client_sim_company, client_time)
    auth = (await other.sessions.current()).basic_auth("0")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client_sim_app)) as raw:
        for _ in range(4):
            await raw.get("http://sim/v2/token/session/>whoAmI", headers={"Authorization": auth})
    numbers = [20001, 20002, 20003, 20004, 20005, 20006]
    for number in numbers:
        ensured = await client.customers.ensure(Customer(name=f"Kunde {number}", customer_number=number))
        assert ensured.created
    api_statuses = [
        status
        for request, status in zip(client_sim_transport.requests, client_sim_transport.statuses, strict=True)
        if not request.url.path.endswith("/token/session/:create")
    ]
    assert api_statuses[0] == 429
    assert client_time.slept[:2] == sorted(client_time.slept[:2])  # exponential, not constant
    assert client.transport.limiter.throttle_waits > 0
    assert client_sim_transport.count("POST", "/v2/customer") == len(numbers)
    table = client_sim_app.state.simulator.companies[client_sim_company["id"]].table("Customer")
    assert sorted(c["customerNumber"] for c in table.values()) == numbers
    await client.aclose()
    await other.aclose()


async def test_throttles_on_remaining_header_before_hitting_429(
    client_sim: TripletexClient,
    client_sim_admin: httpx.AsyncClient,
    client_sim_company: dict[str, Any],
    client_sim_transport: ClientRecordingTransport,
) -> None:
    await client_sim_admin.put(
        f"/_sim/companies/{client_sim_company['id']}/faults", json={"rateLimit": 30, "ratePeriodSeconds": 5}
    )
    for _ in range(70):
        await client_sim.who_am_i()
    assert 429 not in client_sim_transport.statuses
    assert client_sim.transport.limiter.throttle_waits + client_sim.transport.limiter.paced_waits >= 2
    assert client_sim.transport.limiter.paced_waits > 0


async def test_5xx_faults_never_duplicate_creates(
    client_sim_admin: httpx.AsyncClient,
    client_sim_company: dict[str, Any],
    client_sim_transport: ClientRecordingTransport,
    client_sim_app: Any,
    client_time: ClientVirtualTime,
) -> None:
    # 30 % of calls fail: give creates more rounds than the production default of 3.
    patient = ClientSettings(retry=RetryPolicy(server_error_base_seconds=0.01, create_max_attempts=10))
    client = client_make_sim_client(client_sim_transport, client_sim_company, client_time, settings=patient)
    await client.who_am_i()
    await client_sim_admin.put(f"/_sim/companies/{client_sim_company['id']}/faults", json={"errorRate": 0.3})
    numbers = list(range(30001, 30013))
    for number in numbers:
        await client.customers.ensure(Customer(name=f"K{number}", customer_number=number))
    await client.aclose()
    await client_sim_admin.put(f"/_sim/companies/{client_sim_company['id']}/faults", json={"errorRate": 0})
    assert 500 in client_sim_transport.statuses
    table = client_sim_app.state.simulator.companies[client_sim_company["id"]].table("Customer")
    assert sorted(c["customerNumber"] for c in table.values()) == numbers


async def test_validation_error_is_typed_with_the_field(client_sim: TripletexClient) -> None:
    manager = await _manager(client_sim)
    with pytest.raises(TripletexValidationError) as info:
        await client_sim.projects.create(
            Project(name="Uten start", number="V-1", project_manager=Ref.to(manager), is_internal=False)
        )
    error = info.value
    assert error.status == 422 and error.code is not None and error.request_id
    assert "startDate" in error.fields


async def test_pagination_iterates_past_one_page(
    client_sim: TripletexClient, client_sim_transport: ClientRecordingTransport
) -> None:
    created = await client_sim.activities.create_many(
        [Activity(name=f"Sats {i}", number=f"P{i:03}", activity_type="GENERAL_ACTIVITY") for i in range(25)]
    )
    assert len(created) == 25
    seen = [a.id async for a in client_sim.activities.iterate(page_size=10)]
    assert {a.id for a in created} <= set(seen)
    assert len(seen) == len(set(seen))  # no repeats across page boundaries
    assert client_sim_transport.count("GET", "/v2/activity") >= 3


async def test_fields_selection_is_sent_and_respected(client_sim: TripletexClient) -> None:
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("F-1", manager))).record
    assert project.id is not None
    slim = await client_sim.projects.get(project.id, fields="id,number")
    assert slim.number == "F-1" and slim.name is None


async def test_every_request_matches_the_vendored_openapi_subset(
    client_sim: TripletexClient, client_sim_transport: ClientRecordingTransport
) -> None:
    """Run the main calls once, then judge every body and query the client sent."""
    manager = await _manager(client_sim)
    project = (await client_sim.projects.ensure(_project("S-1", manager))).record
    assert project.id is not None
    await client_sim.projects.update(project.id, lambda p: setattr(p, "description", "x"))
    await client_sim.projects.add_participants(project.id, [manager])
    await client_sim.customers.ensure(
        Customer(name="Skjema", customer_number=40001, invoice_send_method="EMAIL")
    )
    activity = (
        await client_sim.activities.ensure(
            Activity(name="Arbeid", number="S1", activity_type="PROJECT_GENERAL_ACTIVITY")
        )
    ).record
    assert activity.id is not None
    await client_sim.projects.link_activity(project.id, activity.id)
    await client_sim.ledger.accounts([1500, 3000])
    await client_sim.ledger.vat_type("3")
    problems = client_schema_problems(client_sim_transport.sent) + client_query_problems(
        client_sim_transport.requests
    )
    assert problems == []


def test_settings_reject_a_session_shorter_than_two_days() -> None:
    from pydantic import ValidationError

    from services.tripletex.client import SessionPolicy

    with pytest.raises(ValidationError):
        SessionPolicy(valid_days=1)
    with pytest.raises(ValidationError):
        SessionPolicy(valid_days=3, renew_days_before_expiry=3)
    assert (
        ClientSettings(retry=RetryPolicy(rate_limit_base_seconds=0.01)).retry.rate_limit_cap_seconds == 60.0
    )


async def test_wrong_consumer_token_is_an_auth_error_without_the_token(
    client_sim_transport: ClientRecordingTransport,
    client_sim_company: dict[str, Any],
    client_time: ClientVirtualTime,
) -> None:
    wrong = {**client_sim_company, "consumerToken": "consumer-WRONG-0123456789abcdef"}
    async with client_make_sim_client(client_sim_transport, wrong, client_time) as client:
        with pytest.raises(TripletexAuthError) as info:
            await client.who_am_i()
    text = f"{info.value} {info.value!r} {info.value.developer_message}"
    assert "consumer-WRONG" not in text and client_sim_company["employeeToken"] not in text
    assert info.value.status == 422 and info.value.request_id
