"""Transport behaviour against a scripted fake: auth renewal, retries, throttling, unknown outcomes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from services.tripletex.client import (
    ClientSettings,
    LimiterPolicy,
    LimiterRegistry,
    TripletexAuthError,
    TripletexClient,
    TripletexOutcomeUnknown,
    TripletexRateLimited,
    TripletexServerError,
)
from services.tripletex.client.models import Customer

from .conftest import CLIENT_BASE_URL, CLIENT_CONSUMER_TOKEN, CLIENT_EMPLOYEE_TOKEN, CLIENT_FAST_SETTINGS


def _auth_token(request: httpx.Request) -> str:
    import base64

    user_pass = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
    user, _, token = user_pass.partition(":")
    assert user == "0"
    return token


async def test_session_minted_days_ahead_and_sent_as_basic_auth(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    await client_on_fake.customers.get(1)
    assert client_fake.mints == 1
    body = client_fake.mint_bodies[0]
    assert set(body) == {"consumerToken", "employeeToken", "expirationDate"}
    days = (dt.date.fromisoformat(body["expirationDate"]) - dt.date.today()).days
    assert days >= 2
    assert _auth_token(client_fake.requests[0]) == client_fake.session_token(1)


async def test_401_remints_once_and_retries_once(client_on_fake: TripletexClient, client_fake: Any) -> None:
    client_fake.script = [
        httpx.Response(401, json={"status": 401, "code": 3000, "message": "Could not log in"})
    ]
    customer = await client_on_fake.customers.get(1)
    assert customer.id == 1
    assert client_fake.mints == 2
    assert [_auth_token(r) for r in client_fake.requests] == [
        client_fake.session_token(1),
        client_fake.session_token(2),
    ]


async def test_second_401_is_an_auth_error(client_on_fake: TripletexClient, client_fake: Any) -> None:
    unauthorized = httpx.Response(401, json={"status": 401, "code": 3000, "message": "Could not log in"})
    client_fake.script = [unauthorized, unauthorized]
    with pytest.raises(TripletexAuthError) as info:
        await client_on_fake.customers.get(1)
    assert info.value.status == 401 and info.value.code == 3000
    assert client_fake.mints == 2


async def test_session_renewed_before_expiry_date() -> None:
    now = [dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)]
    fake_mints: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token/session/:create"):
            body = json.loads(request.content)
            fake_mints.append(body["expirationDate"])
            return httpx.Response(201, json={"value": {"token": f"tok{len(fake_mints)}", **body}})
        return httpx.Response(200, json={"value": {"id": 7}})

    async with TripletexClient(
        CLIENT_BASE_URL,
        "tenant-clock",
        consumer_token=CLIENT_CONSUMER_TOKEN,
        employee_token=CLIENT_EMPLOYEE_TOKEN,
        settings=CLIENT_FAST_SETTINGS,
        transport=httpx.MockTransport(handler),
        clock=lambda: now[0],
    ) as client:
        await client.customers.get(7)
        now[0] += dt.timedelta(days=5)
        await client.customers.get(7)
        assert len(fake_mints) == 1  # 2 days left: still fresh
        now[0] += dt.timedelta(days=1)
        await client.customers.get(7)
        assert fake_mints == ["2026-11-30", "2026-12-06"]  # renewed a day before expiry


async def test_429_without_reset_backs_off_exponentially_and_write_lands_once(
    client_on_fake: TripletexClient, client_fake: Any, client_sleeps: list[float]
) -> None:
    limited = httpx.Response(429, headers={"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "0"})
    client_fake.script = [limited, limited, limited]
    client_fake.default = lambda request: httpx.Response(201, json={"value": {"id": 9, "name": "Acme"}})
    created = await client_on_fake.customers.create(Customer(name="Acme"))
    assert created.id == 9
    assert len(client_fake.requests) == 4  # three rejected, one accepted: nothing lost, nothing doubled
    waits = client_sleeps[:3]
    assert waits == sorted(waits) and waits[0] < waits[-1]  # 1x, 2x, 4x the base


async def test_429_with_reset_header_waits_for_reset(
    client_on_fake: TripletexClient, client_fake: Any, client_sleeps: list[float]
) -> None:
    client_fake.script = [httpx.Response(429, headers={"X-Rate-Limit-Reset": "3"})]
    await client_on_fake.customers.get(1)
    assert len(client_sleeps) == 1 and 2.9 < client_sleeps[0] <= 3.0


async def test_429_forever_raises_rate_limited(client_on_fake: TripletexClient, client_fake: Any) -> None:
    client_fake.default = lambda request: httpx.Response(429, json={"status": 429, "message": "Too many"})
    with pytest.raises(TripletexRateLimited) as info:
        await client_on_fake.customers.get(1)
    assert info.value.status == 429


async def test_throttles_before_budget_is_spent(
    client_on_fake: TripletexClient, client_fake: Any, client_sleeps: list[float]
) -> None:
    client_fake.script = [
        httpx.Response(
            200,
            json={"value": {"id": 1}},
            headers={"X-Rate-Limit-Limit": "20", "X-Rate-Limit-Remaining": "1", "X-Rate-Limit-Reset": "4"},
        )
    ]
    await client_on_fake.customers.get(1)
    await client_on_fake.customers.get(1)
    assert len(client_sleeps) == 1 and 3.5 < client_sleeps[0] <= 4.0
    assert client_on_fake.transport.limiter.throttle_waits == 1


async def test_5xx_on_read_is_retried(client_on_fake: TripletexClient, client_fake: Any) -> None:
    client_fake.script = [httpx.Response(502), httpx.Response(500, json={"status": 500, "code": 1000})]
    assert (await client_on_fake.customers.get(1)).id == 1
    assert len(client_fake.requests) == 3


async def test_5xx_on_read_gives_up_with_server_error(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    client_fake.default = lambda request: httpx.Response(
        500, json={"status": 500, "code": 1000, "message": "boom"}, headers={"x-tlx-request-id": "req-1"}
    )
    with pytest.raises(TripletexServerError) as info:
        await client_on_fake.customers.get(1)
    assert info.value.request_id == "req-1"
    assert len(client_fake.requests) == CLIENT_FAST_SETTINGS.retry.max_attempts


async def test_timeout_on_create_is_unknown_outcome_not_a_resend(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    client_fake.script = [timeout]
    with pytest.raises(TripletexOutcomeUnknown):
        await client_on_fake.customers.create(Customer(name="Acme"))
    assert len(client_fake.requests) == 1


async def test_timeout_on_read_is_retried(client_on_fake: TripletexClient, client_fake: Any) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client_fake.script = [timeout, refused]
    assert (await client_on_fake.customers.get(1)).id == 1
    assert len(client_fake.requests) == 3


async def test_connect_error_on_create_is_retried_because_nothing_was_sent(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client_fake.script = [refused]
    client_fake.default = lambda request: httpx.Response(201, json={"value": {"id": 3, "name": "Acme"}})
    assert (await client_on_fake.customers.create(Customer(name="Acme"))).id == 3


async def test_unknown_outcome_resolved_by_looking_not_by_resending(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    """The POST reached the server and was applied, but the answer was lost."""
    stored: list[dict[str, Any]] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            matches = [
                c for c in stored if str(c["customerNumber"]) == request.url.params["customerAccountNumber"]
            ]
            if request.url.params["isInactive"] == "true":
                matches = []
            return httpx.Response(
                200,
                json={"fullResultSize": len(matches), "from": 0, "count": len(matches), "values": matches},
            )
        stored.append({"id": 42, "version": 0, **json.loads(request.content)})
        raise httpx.ReadTimeout("lost answer", request=request)

    client_fake.default = server
    ensured = await client_on_fake.customers.ensure(Customer(name="Acme", customer_number=1001))
    assert ensured.record.id == 42 and not ensured.created and ensured.recovered
    assert len(stored) == 1
    assert [r.method for r in client_fake.requests].count("POST") == 1


async def test_one_tenant_cannot_starve_another() -> None:
    """Tenant A saturates its slots with slow calls; tenant B's call goes straight through."""
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token/session/:create"):
            body = json.loads(request.content)
            return httpx.Response(201, json={"value": {"token": "t" + body["employeeToken"][-4:], **body}})
        if "slow" in request.url.path:
            await release.wait()
        return httpx.Response(200, json={"value": {"id": 1}})

    registry = LimiterRegistry(LimiterPolicy(max_concurrency_per_tenant=2))
    settings = ClientSettings(limiter=LimiterPolicy(max_concurrency_per_tenant=2))
    shared = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    a = TripletexClient(
        CLIENT_BASE_URL,
        "tenant-a",
        consumer_token="ca-xxxx",
        employee_token="ea-aaaa",
        settings=settings,
        http_client=shared,
        limiters=registry,
    )
    b = TripletexClient(
        CLIENT_BASE_URL,
        "tenant-b",
        consumer_token="cb-xxxx",
        employee_token="eb-bbbb",
        settings=settings,
        http_client=shared,
        limiters=registry,
    )
    slow = [asyncio.create_task(a.transport.request("GET", "/slow")) for _ in range(6)]
    await asyncio.sleep(0.01)
    fast = await asyncio.wait_for(b.transport.request("GET", "/fast"), timeout=1.0)
    assert fast.status_code == 200
    assert a.transport.sent_requests == 2  # A is capped at its own two slots
    release.set()
    await asyncio.gather(*slow)
    await shared.aclose()


async def test_409_exists_on_create_links_the_existing_record(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    """Someone created it between our look and our create: 409/14000 means look again and link."""
    empty = {"fullResultSize": 0, "from": 0, "count": 0, "values": []}
    found = {"fullResultSize": 1, "from": 0, "count": 1, "values": [{"id": 77, "customerNumber": 1002}]}
    client_fake.script = [
        httpx.Response(200, json=empty),
        httpx.Response(200, json=empty),
        httpx.Response(409, json={"status": 409, "code": 14000, "message": "Duplicate entry"}),
        httpx.Response(200, json=found),
    ]
    ensured = await client_on_fake.customers.ensure(Customer(name="Acme", customer_number=1002))
    assert ensured.record.id == 77 and not ensured.created


async def test_errors_do_not_chain_the_httpx_request_with_its_auth_header(
    client_on_fake: TripletexClient, client_fake: Any
) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    client_fake.script = [timeout]
    with pytest.raises(TripletexOutcomeUnknown) as info:
        await client_on_fake.customers.create(Customer(name="Acme"))
    assert info.value.__cause__ is None and info.value.__context__ is None
