"""The ingest's edge as an attacker next to it sees it (issue 10, items 1 and 3), over real HTTP.

One ingest (real Kafka and PostgreSQL) serves its public listener and its internal listener on
loopback ports, as ``tsync run ingest`` does. Every test here failed against the engine before
the edge was hardened: the change API was public and anonymous, readiness was open, the hours
export skipped the signature for a tenant without a secret, bodies had no limit, each refusal
told why (and so which tenants exist), a non-ASCII signature was a 500, and a Tripletex delivery
could be replayed. Tripletex and Drifti here are a recorder that counts every call it gets.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from contracts.envelope import ChangeEvent, ChangeKind
from contracts.topics import SVENN_CHANGES, TRIPLETEX_CHANGES, record_key
from services.core.asgi_serving import serve_asgi
from services.core.settings import Settings
from services.core.tenants import (
    DriftiAccess,
    StaticTenantDirectory,
    SvennAccess,
    TenantConfig,
    TripletexAccess,
)
from services.restclient.webhook_signature import compute_signature
from services.runtime import Role, Runtime
from services.tripletex.ingest import expected_signature
from tests.integration.ingest_api import BEARER, TOKEN, customer_deleted, with_ingest_token
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration

SECRET = "whsec_the-tenants-own-secret-0123456789"
OPERATOR = "operator-token-" + uuid.uuid4().hex
MiB = 1024 * 1024


class Recorder:
    """Stands in for Tripletex and Drifti: answers 500 to everything and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Edge:
    settings: Settings
    runtime: Runtime
    public: str
    internal: str
    recorder: Recorder
    tenant: str  # every side connected, each with its webhook secret
    bare: str  # every side connected, no webhook secret at all
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=20))


def _tenant(tenant_id: str, url: str, secret: str | None) -> TenantConfig:
    webhook_secret = SecretStr(secret) if secret else None
    return TenantConfig(
        tenant_id=tenant_id,
        svenn=SvennAccess(base_url=url, api_key=SecretStr("svenn-key"), webhook_secret=webhook_secret),
        tripletex=TripletexAccess(
            base_url=f"{url}/v2",
            consumer_token=SecretStr("consumer"),
            employee_token=SecretStr("employee"),
            webhook_secret=webhook_secret,
        ),
        drifti=DriftiAccess(base_url=url, api_key=SecretStr("drifti-key"), webhook_secret=webhook_secret),
    )


@pytest.fixture(scope="module")
async def edge(settings: Settings) -> AsyncIterator[Edge]:
    settings = with_ingest_token(settings).model_copy(
        update={"catch_up": False, "operator_tokens": SecretStr(f"ops:{OPERATOR}")}
    )
    recorder = Recorder()
    tenant, bare = f"t-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex[:12]}"
    async with serve_asgi(recorder, lifespan="off") as recorder_url:
        tenants = StaticTenantDirectory(
            [_tenant(tenant, recorder_url, SECRET), _tenant(bare, recorder_url, None)]
        )
        runtime = Runtime(settings, [Role.INGEST], tenants=tenants)
        # The public app's lifespan starts the ingest; the internal listener serves the same runtime.
        async with (
            serve_asgi(runtime.http_app()) as public,
            serve_asgi(runtime.internal_app(), lifespan="off") as internal,
        ):
            found = Edge(settings, runtime, public, internal, recorder, tenant, bare)
            yield found
            await found.http.aclose()


# --------------------------------------------------------------------------- the ingest API
async def test_the_change_api_is_not_routed_on_the_public_port(edge: Edge) -> None:
    event = customer_deleted(edge.tenant, "c-public")
    response = await edge.http.post(f"{edge.public}/v1/changes", content=event.model_dump_json())
    assert response.status_code == 404


async def test_the_change_api_refuses_a_change_without_a_token_or_with_a_wrong_one_and_publishes_nothing(
    edge: Edge,
) -> None:
    refused = customer_deleted(edge.tenant, "c-refused", version="1")
    url = f"{edge.internal}/v1/changes"
    unsigned = await edge.http.post(url, content=refused.model_dump_json())
    wrong = await edge.http.post(
        url, content=refused.model_dump_json(), headers={"authorization": "Bearer not-the-token-at-all"}
    )
    basic = await edge.http.post(url, content=refused.model_dump_json(), auth=("tests", TOKEN))
    for response in (unsigned, wrong, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert unsigned.json() == wrong.json() == basic.json()

    # The same record's next change, with the producer's token: the first thing on its partition.
    accepted = customer_deleted(edge.tenant, "c-refused", version="2")
    ok = await edge.http.post(url, content=accepted.model_dump_json(), headers=BEARER)
    assert ok.status_code == 202, ok.text
    key = record_key(edge.tenant, "customer", "c-refused")
    (first,) = await read_topic(edge.settings, SVENN_CHANGES, lambda r: r.key == key, count=1)
    assert ChangeEvent.model_validate_json(first.value or b"").event_id == accepted.event_id


async def test_a_producers_token_is_accepted_and_the_change_reaches_kafka(edge: Edge) -> None:
    event = customer_deleted(edge.tenant, "c-accepted")
    response = await edge.http.post(
        f"{edge.internal}/v1/changes", content=event.model_dump_json(), headers=BEARER
    )
    assert response.status_code == 202, response.text
    key = record_key(edge.tenant, "customer", "c-accepted")
    (record,) = await read_topic(edge.settings, SVENN_CHANGES, lambda r: r.key == key, count=1)
    assert ChangeEvent.model_validate_json(record.value or b"").event_id == event.event_id


async def test_without_configured_tokens_every_change_is_refused(settings: Settings) -> None:
    runtime = Runtime(settings, [Role.INGEST], tenants=StaticTenantDirectory())  # INGEST_API_TOKENS unset
    async with serve_asgi(runtime.internal_app(), lifespan="off") as internal, httpx.AsyncClient() as http:
        for headers in ({}, BEARER, {"authorization": "Bearer x"}):
            response = await http.post(f"{internal}/v1/changes", content=b"{}", headers=headers)
            assert response.status_code == 401


async def test_metrics_are_on_the_internal_port_only(edge: Edge) -> None:
    assert (await edge.http.get(f"{edge.public}/metrics")).status_code == 404
    assert "tsync_" in (await edge.http.get(f"{edge.internal}/metrics")).text


# --------------------------------------------------------------------------- readiness
async def test_readiness_needs_an_operator_token_and_is_not_on_the_public_port(edge: Edge) -> None:
    url = f"/tenants/{edge.tenant}/readiness"
    assert (await edge.http.get(edge.public + url)).status_code == 404
    anonymous = await edge.http.get(edge.internal + url)
    producer = await edge.http.get(edge.internal + url, headers=BEARER)  # a producer is not an operator
    assert (anonymous.status_code, producer.status_code) == (401, 401)
    assert edge.tenant not in anonymous.text
    assert edge.recorder.calls == []  # nobody's rate limit was spent
    operator = {"authorization": f"Bearer {OPERATOR}"}
    unknown = await edge.http.get(f"{edge.internal}/tenants/t-nobody/readiness", headers=operator)
    assert unknown.status_code == 404  # let in: an operator may be told a tenant does not exist


# --------------------------------------------------------------------------- the hours export
def drifti_signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "content-type": "application/json",
        "X-Drifti-Timestamp": stamp,
        "X-Drifti-Signature": compute_signature(secret, stamp, body),
    }


async def test_export_hours_for_a_tenant_without_a_drifti_secret_is_refused_and_calls_nobody(
    edge: Edge,
) -> None:
    body = json.dumps({"from": "2026-10-01", "to": "2026-10-31"}).encode()
    url = f"{edge.public}/webhooks/drifti/{edge.bare}/export-hours"
    calls = len(edge.recorder.calls)
    unsigned = await edge.http.post(url, content=body, headers={"content-type": "application/json"})
    # Whatever secret someone signs with, a tenant without one cannot be exported over HTTP.
    signed = await edge.http.post(url, content=body, headers=drifti_signed(body, "whsec_anything-at-all"))
    assert (unsigned.status_code, signed.status_code) == (401, 401)
    assert len(edge.recorder.calls) == calls  # neither Drifti nor Tripletex was called


async def test_export_hours_refuses_a_period_longer_than_a_quarter_before_calling_anyone(edge: Edge) -> None:
    body = json.dumps({"from": "2026-01-01", "to": "2026-12-31"}).encode()
    calls = len(edge.recorder.calls)
    response = await edge.http.post(
        f"{edge.public}/webhooks/drifti/{edge.tenant}/export-hours", content=body, headers=drifti_signed(body)
    )
    assert response.status_code == 422
    assert "93 days" in response.json()["error"]
    assert len(edge.recorder.calls) == calls


async def test_the_exports_database_pool_is_opened_once_for_the_process(edge: Edge) -> None:
    # The ingest alone holds no pool: the first export opens one (and migrates), every later one reuses it.
    assert edge.runtime.database is None
    pools = await asyncio.gather(*(edge.runtime.database_pool() for _ in range(5)))
    assert all(pool is pools[0] for pool in pools)
    assert (
        await pools[0].fetchval("SELECT count(*) FROM drifti_hours_link WHERE tenant_id = $1", edge.tenant)
        == 0
    )


# --------------------------------------------------------------------------- uniform refusals
@dataclass(frozen=True)
class Route:
    """One signed route: where it is for a tenant, and how its sender signs a body."""

    name: str
    path: Callable[[str], str]
    sign: Callable[[bytes, str], dict[str, str]]
    signature_header: str


def _svenn_signed(body: bytes, secret: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {"X-Svenn-Timestamp": stamp, "X-Svenn-Signature": compute_signature(secret, stamp, body)}


def _tripletex_signed(body: bytes, secret: str) -> dict[str, str]:
    key = str(uuid.uuid4())
    return {"idempotency-key": key, "x-request-signature": expected_signature(secret, key, body)}


ROUTES = [
    Route("svenn", lambda t: f"/webhooks/svenn/{t}", _svenn_signed, "X-Svenn-Signature"),
    Route("tripletex", lambda t: f"/webhooks/tripletex/{t}", _tripletex_signed, "x-request-signature"),
    Route("drifti", lambda t: f"/webhooks/drifti/{t}", drifti_signed, "X-Drifti-Signature"),
    Route(
        "export-hours", lambda t: f"/webhooks/drifti/{t}/export-hours", drifti_signed, "X-Drifti-Signature"
    ),
]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
async def test_unknown_tenant_missing_secret_missing_and_wrong_signature_get_the_same_answer(
    edge: Edge, route: Route
) -> None:
    body = b'{"from": "2026-10-01", "to": "2026-10-31"}'
    nobody = f"t-nobody-{uuid.uuid4().hex[:8]}"

    async def post(tenant_id: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        return await edge.http.post(edge.public + route.path(tenant_id), content=content, headers=headers)

    answers = {
        "unknown tenant": await post(nobody, body, route.sign(body, SECRET)),
        "tenant without the secret": await post(edge.bare, body, route.sign(body, SECRET)),
        "no signature": await post(edge.tenant, body, {}),
        # Not even JSON: the signature is checked before anything is parsed (401, not 422).
        "wrong signature": await post(
            edge.tenant, b"\x00not json", route.sign(b"\x00not json", "whsec_wrong")
        ),
    }
    assert {why: r.status_code for why, r in answers.items()} == dict.fromkeys(answers, 401)
    assert len({r.content for r in answers.values()}) == 1, {why: r.text for why, r in answers.items()}
    for tenant_id in (nobody, edge.bare, edge.tenant):
        assert all(tenant_id not in r.text for r in answers.values())


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
async def test_a_non_ascii_signature_is_refused_with_401_not_500(edge: Edge, route: Route) -> None:
    body = b'{"from": "2026-10-01", "to": "2026-10-31"}'
    headers: dict[str, str | bytes] = {**route.sign(body, SECRET)}
    headers[route.signature_header] = "sha256=ærlig-øl-på-tå".encode()  # bytes: sent as they are
    response = await edge.http.post(edge.public + route.path(edge.tenant), content=body, headers=headers)
    assert response.status_code == 401, response.text


# --------------------------------------------------------------------------- replays
async def test_a_replayed_tripletex_delivery_within_the_window_publishes_once(edge: Edge) -> None:
    employee_id = int(uuid.uuid4().int % 10**9)
    value = {
        "id": employee_id,
        "version": 3,
        "firstName": "Kari",
        "lastName": "Nordmann",
        "employeeNumber": "17",
        "email": "kari@example.no",
    }
    url = f"{edge.public}/webhooks/tripletex/{edge.tenant}"
    update = json.dumps({"subscriptionId": 1, "event": "employee.update", "id": employee_id, "value": value})
    captured = _tripletex_signed(update.encode(), SECRET)
    first = await edge.http.post(url, content=update, headers=captured)
    replayed = await edge.http.post(url, content=update, headers=captured)  # the same bytes and headers
    assert (first.status_code, replayed.status_code) == (202, 202), replayed.text
    assert replayed.json() == first.json()

    # A later delivery about the same record (same key, same partition, after them in order).
    delete = json.dumps({"subscriptionId": 1, "event": "employee.delete", "id": employee_id, "value": None})
    sentinel = await edge.http.post(url, content=delete, headers=_tripletex_signed(delete.encode(), SECRET))
    assert sentinel.status_code == 202
    key = record_key(edge.tenant, "employee", str(employee_id))
    records = await read_topic(edge.settings, TRIPLETEX_CHANGES, lambda r: r.key == key, count=2)
    kinds = [ChangeEvent.model_validate_json(r.value or b"").change_kind for r in records]
    assert kinds == [ChangeKind.UPDATED, ChangeKind.DELETED]  # a second publish would be another update


# --------------------------------------------------------------------------- body limits
def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


class _RawClient(asyncio.Protocol):
    """A bare HTTP/1.1 client connection: keeps every byte it receives, even when a reset follows."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = asyncio.get_running_loop().create_future()
        self.writable = asyncio.Event()
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


async def _send_until_answered(base_url: str, head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` and then ``chunks`` until the server answers; (the answer, body bytes sent)."""
    transport, client = await asyncio.get_running_loop().create_connection(_RawClient, *_address(base_url))
    sent = 0
    try:
        transport.write(head)
        for chunk in chunks:
            await client.writable.wait()  # the server reads no more: the sockets' buffers fill, writes pause
            if client.received or client.closed.done():
                break
            transport.write(chunk)
            sent += len(chunk)
        async with asyncio.timeout(20):
            await client.closed  # the server closes after a 413
        return bytes(client.received), sent
    finally:
        transport.close()


def _head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: ingest", "content-type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("listener", "path"),
    [
        ("public", "/webhooks/svenn/t-nobody"),
        ("public", "/webhooks/tripletex/t-nobody"),
        ("internal", "/v1/changes"),
    ],
)
async def test_a_64_mib_body_is_refused_with_413_before_it_is_sent(
    edge: Edge, listener: str, path: str
) -> None:
    base = edge.public if listener == "public" else edge.internal
    # Only the head goes out: the answer must come from the declared length alone.
    answer, _ = await _send_until_answered(base, _head(path, content_length=str(64 * MiB)), iter(()))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"BODY_TOO_LARGE" in answer


async def test_a_streamed_64_mib_body_is_cut_off_with_413_after_the_limit(edge: Edge) -> None:
    chunk = b"x" * (64 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    total = 64 * MiB // len(chunk)
    head = _head("/webhooks/svenn/t-nobody", transfer_encoding="chunked")
    answer, sent = await _send_until_answered(edge.public, head, (framed for _ in range(total)))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # The server stopped reading past the limit: what the sockets' buffers held is all that went out.
    assert sent < total * len(framed) // 2, f"{sent / MiB:.1f} MiB were sent before the 413"
