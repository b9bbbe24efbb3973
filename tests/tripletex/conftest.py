"""Fixtures for the Tripletex client tests (all prefixed ``client_``).

Two backends: a scripted fake (``client_fake``) for transport behaviour that needs exact
control (timeouts mid-write, a 401 on the nth call), and the simulator over ASGITransport
(``client_sim``) for everything a real server would decide.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.tripletex.client import ClientSettings, LimiterRegistry, RetryPolicy, TripletexClient

CLIENT_BASE_URL = "http://tripletex.test/v2"
CLIENT_CONSUMER_TOKEN = "consumer-SECRET-abcdef0123456789"
CLIENT_EMPLOYEE_TOKEN = "employee-SECRET-9876543210fedcba"

# Millisecond backoff so the real retry code runs without real waiting.
CLIENT_FAST_SETTINGS = ClientSettings(
    retry=RetryPolicy(
        rate_limit_base_seconds=0.002,
        rate_limit_cap_seconds=0.02,
        server_error_base_seconds=0.001,
        server_error_cap_seconds=0.01,
    )
)

ClientResponder = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class ClientFakeTripletex:
    """Mints sessions itself; every other request is answered by ``script`` then ``default``."""

    def __init__(self) -> None:
        self.mints = 0
        self.mint_bodies: list[dict[str, Any]] = []
        self.mint_script: list[httpx.Response] = []  # answers to session creates, before minting
        self.requests: list[httpx.Request] = []
        self.script: list[httpx.Response | ClientResponder] = []
        self.default: ClientResponder = lambda request: httpx.Response(200, json={"value": {"id": 1}})

    def session_token(self, n: int) -> str:
        return f"session-token-{n}-SECRET"

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token/session/:create"):
            if self.mint_script:
                return self.mint_script.pop(0)
            self.mints += 1
            body = json.loads(request.content)
            self.mint_bodies.append(body)
            token = self.session_token(self.mints)
            return httpx.Response(
                201, json={"value": {"token": token, "expirationDate": body["expirationDate"]}}
            )
        self.requests.append(request)
        item: httpx.Response | ClientResponder = self.script.pop(0) if self.script else self.default
        if isinstance(item, httpx.Response):
            return item
        result = item(request)
        if inspect.isawaitable(result):
            result = await result
        return result


@pytest.fixture
def client_fake() -> ClientFakeTripletex:
    return ClientFakeTripletex()


@pytest.fixture
def client_sleeps() -> list[float]:
    return []


@pytest.fixture
def client_sleep(client_sleeps: list[float]) -> Callable[[float], Awaitable[None]]:
    """Records every backoff/throttle wait instead of waiting."""

    async def sleep(seconds: float) -> None:
        client_sleeps.append(seconds)
        await asyncio.sleep(0)

    return sleep


@pytest.fixture
async def client_on_fake(
    client_fake: ClientFakeTripletex, client_sleep: Callable[[float], Awaitable[None]]
) -> AsyncIterator[TripletexClient]:
    client = TripletexClient(
        CLIENT_BASE_URL,
        "tenant-fake",
        consumer_token=CLIENT_CONSUMER_TOKEN,
        employee_token=CLIENT_EMPLOYEE_TOKEN,
        settings=CLIENT_FAST_SETTINGS,
        transport=httpx.MockTransport(client_fake),
        limiters=LimiterRegistry(CLIENT_FAST_SETTINGS.limiter, sleep=client_sleep),
        sleep=client_sleep,
        rand=lambda: 0.5,
    )
    async with client:
        yield client


# --- the simulator over ASGITransport ---------------------------------------------------------


class ClientRecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the simulator and keeps a copy of each, for the schema check."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, str, bytes]] = []
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []
        # Runs before a request is forwarded: lets a test change data behind the client's back.
        self.before: Callable[[httpx.Request], Awaitable[None]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        self.sent.append((request.method, request.url.path, request.headers.get("content-type", ""), content))
        self.requests.append(request)
        if self.before is not None:
            await self.before(request)
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path == path)


class ClientSimClock:
    """The simulator's wall clock, movable by tests (session expiry is date-based)."""

    def __init__(self) -> None:
        import datetime as dt

        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> Any:
        return self.now


class ClientVirtualTime:
    """Monotonic time shared by the simulator's rate limiter and the client's waits.

    The client "sleeps" by moving the clock, so a 1 s rate-limit period or a 4 s backoff
    costs no real time, yet both sides see the same time pass.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@pytest.fixture
def client_sim_clock() -> ClientSimClock:
    return ClientSimClock()


@pytest.fixture
def client_time() -> ClientVirtualTime:
    return ClientVirtualTime()


@pytest.fixture
def client_sim_app(client_sim_clock: ClientSimClock, client_time: ClientVirtualTime) -> Any:
    from services.tripletex.simulator.app import create_app
    from services.tripletex.simulator.state import SimulatorState

    return create_app(SimulatorState(clock=client_sim_clock, monotonic=client_time.monotonic, rng_seed=7))


@pytest.fixture
def client_sim_transport(client_sim_app: Any) -> ClientRecordingTransport:
    return ClientRecordingTransport(httpx.ASGITransport(app=client_sim_app))


@pytest.fixture
async def client_sim_admin(client_sim_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Talks to ``/_sim``: companies, faults, locks."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=client_sim_app), base_url="http://sim"
    ) as admin:
        yield admin


@pytest.fixture
async def client_sim_company(client_sim_admin: httpx.AsyncClient) -> dict[str, Any]:
    response = await client_sim_admin.post("/_sim/companies", json={"name": "Klient Test AS"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def client_make_sim_client(
    transport: httpx.AsyncBaseTransport,
    company: dict[str, Any],
    time: ClientVirtualTime | None = None,
    **kwargs: Any,
) -> TripletexClient:
    settings = kwargs.setdefault("settings", CLIENT_FAST_SETTINGS)
    if time is not None:
        kwargs.setdefault("sleep", time.sleep)
        kwargs.setdefault(
            "limiters", LimiterRegistry(settings.limiter, sleep=time.sleep, monotonic=time.monotonic)
        )
    return TripletexClient(
        "http://sim/v2",
        f"tenant-{company['id']}",
        consumer_token=company["consumerToken"],
        employee_token=company["employeeToken"],
        transport=transport,
        **kwargs,
    )


@pytest.fixture
async def client_sim(
    client_sim_transport: ClientRecordingTransport,
    client_sim_company: dict[str, Any],
    client_time: ClientVirtualTime,
) -> AsyncIterator[TripletexClient]:
    """A client for the test company, on virtual time, whose every request is recorded."""
    async with client_make_sim_client(client_sim_transport, client_sim_company, client_time) as client:
        yield client


# --- request bodies against the vendored OpenAPI subset ---------------------------------------

CLIENT_SUBSET_PATH = (
    Path(__file__).resolve().parents[2] / "services/tripletex/openapi/tripletex-openapi-subset.json"
)


@functools.lru_cache(maxsize=1)
def _client_subset() -> dict[str, Any]:
    return dict(json.loads(CLIENT_SUBSET_PATH.read_text(encoding="utf-8")))


def _client_match(doc: dict[str, Any], method: str, api_path: str) -> dict[str, Any] | None:
    templates = sorted(doc["paths"], key=lambda t: t.count("{"))
    for template in templates:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, api_path):
            operation = doc["paths"][template].get(method.lower())
            if operation is not None:
                return dict(operation)
    return None


def _client_resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _client_strict(value: Any, schema: dict[str, Any], doc: dict[str, Any], where: str) -> list[str]:
    """Unknown and read-only properties, which JSON Schema alone lets through."""
    schema = _client_resolve(schema, doc)
    problems: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            prop = schema["properties"].get(key)
            if prop is None:
                problems.append(f"{where}.{key}: not in schema")
            elif prop.get("readOnly"):
                problems.append(f"{where}.{key}: read-only")
            else:
                problems.extend(_client_strict(item, prop, doc, f"{where}.{key}"))
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems.extend(_client_strict(item, schema["items"], doc, f"{where}[{i}]"))
    return problems


def client_schema_problems(
    sent: list[tuple[str, str, str, bytes]], query: list[tuple[str, str, list[str]]] | None = None
) -> list[str]:
    """Every problem with what the client sent to ``/v2``, judged by the vendored subset."""
    from jsonschema import Draft4Validator

    doc = _client_subset()
    problems: list[str] = []
    for method, path, content_type, content in sent:
        if not path.startswith("/v2/"):
            continue
        api_path = path.removeprefix("/v2")
        operation = _client_match(doc, method, api_path)
        if operation is None:
            problems.append(f"{method} {api_path}: operation not in the subset")
            continue
        request_body = operation.get("requestBody")
        if not content:
            continue
        if request_body is None:
            problems.append(f"{method} {api_path}: body sent, none specified")
            continue
        media = request_body.get("content", {})
        if content_type.startswith("multipart/form-data"):
            if "multipart/form-data" not in media or b'name="file"' not in content:
                problems.append(f"{method} {api_path}: multipart without a 'file' part")
            continue
        schema = next((v["schema"] for k, v in media.items() if "json" in k), None)
        if schema is None:
            problems.append(f"{method} {api_path}: JSON body, spec wants {list(media)}")
            continue
        body = json.loads(content)
        validator = Draft4Validator({**schema, "components": doc["components"]})
        problems.extend(
            f"{method} {api_path}: {e.json_path}: {e.message}" for e in validator.iter_errors(body)
        )
        problems.extend(f"{method} {api_path}: {p}" for p in _client_strict(body, schema, doc, "$"))
    return problems


def client_query_problems(requests: list[httpx.Request]) -> list[str]:
    """Query parameters the spec does not declare for the operation (an invented filter)."""
    doc = _client_subset()
    problems: list[str] = []
    for request in requests:
        api_path = request.url.path.removeprefix("/v2")
        operation = _client_match(doc, request.method, api_path)
        if operation is None:
            continue
        declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        for name in request.url.params:
            if name not in declared:
                problems.append(f"{request.method} {api_path}: query parameter {name!r} not declared")
    return problems
