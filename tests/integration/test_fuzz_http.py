"""Fuzzing every body the engine takes over HTTP (issue 10, "Prove it"): never a 5xx, every bad
request refused with a 4xx.

In process (httpx's ASGI transport against ``Runtime.http_app()`` and ``internal_app()``), with
the ingest role on real Kafka, a tenant connected to the Tripletex and Drifti simulators (served
on loopback ports, so fetches, Drifti's reads and the hours export are real HTTP), and hypothesis
drawing each request: a hostile variant of the route's body (``tests/fuzz_strategies.py``), a
tenant (the known one, another known one, or one that does not exist) and how it is signed
(correctly, not at all, with a wrong or another tenant's secret, with garbage or non-ASCII bytes,
with a stale or future timestamp, or replayed). Signed correctly, a hostile body gets past the
signature: it must then be taken (202) or refused with 400/409/422, never 5xx; anything else
must get the one uniform 401. ``FUZZ_EXAMPLES`` sets the example count (README: Security).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from contracts.envelope import ChangeEvent
from contracts.topics import TRIPLETEX_CHANGES
from services.core import metrics
from services.core.asgi_serving import serve_asgi
from services.core.http_edge import UNAUTHORIZED_BODY
from services.core.settings import Settings
from services.core.tenants import (
    DriftiAccess,
    StaticTenantDirectory,
    SvennAccess,
    TenantConfig,
    TripletexAccess,
)
from services.drifti.client import DriftiClient
from services.drifti.simulator.app import create_app as create_drifti_app
from services.drifti.simulator.state import SimState as DriftiSimState
from services.restclient.webhook_signature import compute_signature
from services.runtime import Role, Runtime
from services.tripletex.ingest import expected_signature
from services.tripletex.simulator.app import create_app as create_tripletex_app
from services.tripletex.simulator.state import SimulatorState
from tests.fuzz_strategies import (
    CASES,
    FATES,
    change_events,
    drifti_webhooks,
    encode,
    export_periods,
    fuzz_examples,
    hostile,
    hostile_text,
    svenn_webhooks,
    tripletex_webhooks,
    webhook_event,
)
from tests.integration.ingest_api import BEARER, TOKEN, with_ingest_token

pytestmark = pytest.mark.integration

TENANT = f"fz-{uuid.uuid4().hex[:10]}"
OTHER = f"fz-{uuid.uuid4().hex[:10]}"  # known too, with secrets of its own: cross-tenant signatures
SECRETS = {side: f"whsec_{side}-{uuid.uuid4().hex}" for side in ("svenn", "tripletex", "drifti")}
OTHER_SECRETS = {side: f"whsec_other-{side}-{uuid.uuid4().hex}" for side in SECRETS}

# What an authentic but hostile delivery may get: taken, or refused saying why (413: over MAX_BODY_BYTES).
TAKEN_OR_REFUSED = {200, 202, 400, 409, 413, 422}


@dataclass
class Edge:
    settings: Settings
    runtime: Runtime
    public: httpx.AsyncClient
    internal: httpx.AsyncClient
    drifti_refs: dict[str, list[str]]


async def _drifti_records(url: str, api_key: str) -> dict[str, list[str]]:
    """One customer, job, invoice and payment in the tenant's Drifti, for bodies to refer to."""
    async with DriftiClient(url, api_key) as client:
        customer = await client.customers.create({"customer_number": "20001", "name": "Fuzz AS"})
        job = await client.jobs.create({"title": "Fuzz job", "customer_id": customer.id})
        line = {"description": "Work", "quantity": "1", "unit_price": "100", "ledger_account": "3000"}
        invoice = await client.invoices.create({"job_id": job.id, "lines": [line]})
        payment = await client.payments.create(
            {
                "invoice_id": invoice.id,
                "amount": "10.00",
                "payment_date": invoice.invoice_date.isoformat(),
                "method": "manual",
            }
        )
    return {"customer": [customer.id], "job": [job.id], "invoice": [invoice.id], "payment": [payment.id]}


@pytest.fixture(scope="module")
async def edge(settings: Settings) -> AsyncIterator[Edge]:
    # Topics of its own: the fuzz's changes are for no decision consumer of the other modules.
    settings = with_ingest_token(settings).model_copy(
        update={"catch_up": False, "topic_prefix": f"{settings.topic_prefix}fuzz-http."}
    )
    admin = httpx.AsyncClient(timeout=10)
    async with (
        serve_asgi(create_tripletex_app(SimulatorState())) as tripletex_url,
        serve_asgi(create_drifti_app(DriftiSimState())) as drifti_url,
    ):
        configs = []
        for tenant, secrets in ((TENANT, SECRETS), (OTHER, OTHER_SECRETS)):
            company = (await admin.post(f"{tripletex_url}/_sim/companies", json={"name": tenant})).json()
            drifti = await admin.post(f"{drifti_url}/_sim/tenants", json={"name": tenant})
            drifti.raise_for_status()
            configs.append(
                TenantConfig(
                    tenant_id=tenant,
                    svenn=SvennAccess(
                        base_url="http://127.0.0.1:9",
                        api_key=SecretStr("svenn-key-unused"),
                        webhook_secret=SecretStr(secrets["svenn"]),
                    ),
                    tripletex=TripletexAccess(
                        base_url=f"{tripletex_url}/v2",
                        consumer_token=SecretStr(company["consumerToken"]),
                        employee_token=SecretStr(company["employeeToken"]),
                        webhook_secret=SecretStr(secrets["tripletex"]),
                    ),
                    drifti=DriftiAccess(
                        base_url=drifti_url,
                        api_key=SecretStr(drifti.json()["api_key"]),
                        webhook_secret=SecretStr(secrets["drifti"]),
                    ),
                )
            )
        drifti_key = configs[0].drifti.api_key.get_secret_value()  # type: ignore[union-attr]
        refs = await _drifti_records(drifti_url, drifti_key)
        runtime = Runtime(settings, [Role.INGEST], tenants=StaticTenantDirectory(configs))
        await runtime.start()
        try:
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=runtime.http_app()),
                    base_url="http://public",
                    timeout=30,
                ) as public,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=runtime.internal_app()),
                    base_url="http://internal",
                    timeout=30,
                ) as internal,
            ):
                yield Edge(settings, runtime, public, internal, refs)
        finally:
            await runtime.stop()
            await admin.aclose()


# --------------------------------------------------------------------------- who sends, how signed
unknown_tenants = st.one_of(
    st.sampled_from(["t-nobody", "FZ-" + TENANT[3:], TENANT + "-", TENANT.upper(), "a" * 300]),
    hostile_text,
).filter(lambda t: t not in ("", ".", "..", TENANT, OTHER) and "/" not in t and len(t) <= 2000)

REFUSED_SIGNINGS = ["none", "wrong", "other_tenant", "garbage", "stale", "future", "bad_stamp"]


@dataclass(frozen=True)
class Delivery:
    tenant: str  # where it is sent
    signing: str  # "valid": with the known tenant's secret; else how it is wrong
    garbage: bytes  # a signature header's value in mode "garbage"
    drift_s: int  # how far off the timestamp is (stale, future)
    body: bytes

    @property
    def authentic(self) -> bool:
        return self.tenant == TENANT and self.signing == "valid"

    @property
    def path_tenant(self) -> str:
        """The tenant as a path segment: percent-encoded as a client would (lone surrogates too)."""
        return quote(self.tenant.encode("utf-8", "surrogatepass"), safe="")


garbage_signatures = st.one_of(
    st.binary(max_size=40).filter(lambda b: not set(b) & {10, 13}),
    st.sampled_from([b"sha256=\xc3\xb8\xff", "sha256=ø".encode(), b"sha256=" + b"0" * 64, b" , ,"]),
)


def signed(bodies: st.SearchStrategy[bytes]) -> st.SearchStrategy[Delivery]:
    """Deliveries to the known tenant signed with its secret: the hostile body reaches the engine."""
    return st.builds(Delivery, st.just(TENANT), st.just("valid"), st.just(b""), st.just(0), bodies)


@st.composite
def refused(
    draw: st.DrawFn, bodies: st.SearchStrategy[bytes], signings: list[str] = REFUSED_SIGNINGS
) -> Delivery:
    """Deliveries that must be refused: to an unknown tenant, or not signed with the tenant's secret."""
    tenant = draw(st.one_of(st.just(TENANT), st.just(OTHER), unknown_tenants))
    if tenant == TENANT:
        signing = draw(st.sampled_from(signings))
    else:  # signed with the known tenant's secret, or the other tenant's for an unknown one
        others = [s for s in signings if s != "other_tenant" or tenant != OTHER]
        signing = draw(st.sampled_from(["valid", *others]))
    return Delivery(tenant, signing, draw(garbage_signatures), draw(st.integers(301, 10**8)), draw(bodies))


def timestamped(prefix: str, side: str, d: Delivery) -> dict[str, Any]:
    """Headers as Svenn or Drifti sign (``X-<P>-Timestamp``, ``X-<P>-Signature``), per ``d.signing``."""
    now = int(time.time())
    stamp: str | int = {"stale": now - d.drift_s, "future": now + d.drift_s}.get(d.signing, now)
    secret = {"wrong": "whsec_not-the-secret", "other_tenant": OTHER_SECRETS[side]}.get(
        d.signing, SECRETS[side]
    )
    headers: dict[str, Any] = {"content-type": "application/json"}
    if d.signing == "none":
        return headers
    if d.signing == "bad_stamp":
        stamp = "9" * 30 if d.drift_s % 2 else "yesterday"
    signature: str | bytes = compute_signature(secret, stamp, d.body)
    if d.signing == "garbage":
        signature = d.garbage
    headers[f"X-{prefix}-Timestamp"] = str(stamp)
    headers[f"X-{prefix}-Signature"] = signature
    return headers


def assert_answer(d: Delivery, response: httpx.Response, route: str) -> None:
    where = f"{route} {d.signing} tenant={d.tenant[:40]!r} body={d.body[:300]!r}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    if d.authentic:
        assert response.status_code in TAKEN_OR_REFUSED, (
            f"{where}: {response.status_code} {response.text[:500]}"
        )
    else:
        assert response.status_code == 401, f"{where}: {response.status_code} {response.text[:500]}"
        assert response.json() == UNAUTHORIZED_BODY


def count(target: str, response: httpx.Response) -> None:
    CASES[f"http {target}"] += 1
    FATES[(f"http {target}", str(response.status_code))] += 1


SIGNED = settings(max_examples=fuzz_examples(250), deadline=None)
REFUSED = settings(max_examples=fuzz_examples(80), deadline=None)


# --------------------------------------------------------------------------- Svenn
async def _svenn(edge: Edge, d: Delivery) -> None:
    response = await edge.public.post(
        f"/webhooks/svenn/{d.path_tenant}", content=d.body, headers=timestamped("Svenn", "svenn", d)
    )
    count("svenn webhook", response)
    assert_answer(d, response, "svenn")


@SIGNED
@given(d=signed(hostile(svenn_webhooks(TENANT))))
async def test_svenn_webhook_signed_hostile_bodies(edge: Edge, d: Delivery) -> None:
    await _svenn(edge, d)


@REFUSED
@given(d=refused(hostile(svenn_webhooks(TENANT))))
async def test_svenn_webhook_refusals(edge: Edge, d: Delivery) -> None:
    await _svenn(edge, d)


# --------------------------------------------------------------------------- Drifti
async def _drifti(edge: Edge, d: Delivery, route: str = "") -> None:
    response = await edge.public.post(
        f"/webhooks/drifti/{d.path_tenant}{route}", content=d.body, headers=timestamped("Drifti", "drifti", d)
    )
    count(f"drifti {route.strip('/') or 'webhook'}", response)
    assert_answer(d, response, f"drifti{route}")


@SIGNED
@given(data=st.data())
async def test_drifti_webhook_signed_hostile_bodies(edge: Edge, data: st.DataObject) -> None:
    await _drifti(edge, data.draw(signed(hostile(drifti_webhooks(TENANT, edge.drifti_refs)))))


@REFUSED
@given(data=st.data())
async def test_drifti_webhook_refusals(edge: Edge, data: st.DataObject) -> None:
    await _drifti(edge, data.draw(refused(hostile(drifti_webhooks(TENANT, edge.drifti_refs)))))


@settings(max_examples=fuzz_examples(100), deadline=None)
@given(d=signed(hostile(export_periods())))
async def test_drifti_export_hours_signed_hostile_bodies(edge: Edge, d: Delivery) -> None:
    await _drifti(edge, d, "/export-hours")


@REFUSED
@given(d=refused(hostile(export_periods())))
async def test_drifti_export_hours_refusals(edge: Edge, d: Delivery) -> None:
    await _drifti(edge, d, "/export-hours")


# --------------------------------------------------------------------------- Tripletex
def tripletex_headers(d: Delivery, key: str) -> dict[str, Any]:
    """Headers as Tripletex signs (``idempotency-key``, ``x-request-signature``), per ``d.signing``."""
    secret = {"wrong": "whsec_not-the-secret", "other_tenant": OTHER_SECRETS["tripletex"]}.get(
        d.signing, SECRETS["tripletex"]
    )
    headers: dict[str, Any] = {"content-type": "application/json"}
    if d.signing != "no_key":
        headers["idempotency-key"] = key
    if d.signing != "none":
        signature: str | bytes = expected_signature(secret, key, d.body)
        headers["x-request-signature"] = d.garbage if d.signing == "garbage" else signature
    return headers


def published(edge: Edge, topic: str) -> float:
    value: float = metrics.PUBLISHED.labels(edge.settings.topic(topic))._value.get()
    return value


async def _tripletex(edge: Edge, d: Delivery, headers: dict[str, Any]) -> httpx.Response:
    response = await edge.public.post(f"/webhooks/tripletex/{d.path_tenant}", content=d.body, headers=headers)
    count("tripletex webhook", response)
    assert_answer(d, response, "tripletex")
    return response


@SIGNED
@given(d=signed(hostile(tripletex_webhooks())), replay=st.booleans())
async def test_tripletex_webhook_signed_hostile_bodies(edge: Edge, d: Delivery, replay: bool) -> None:
    headers = tripletex_headers(d, str(uuid.uuid4()))
    first = await _tripletex(edge, d, headers)
    if replay:
        # The same delivery again, as a captured one replayed: the same answer, nothing published again.
        before = published(edge, TRIPLETEX_CHANGES)
        again = await _tripletex(edge, d, headers)
        assert again.status_code == first.status_code
        if first.status_code == 202:
            assert again.content == first.content
            assert published(edge, TRIPLETEX_CHANGES) == before


@REFUSED
@given(d=refused(hostile(tripletex_webhooks()), ["none", "no_key", "wrong", "other_tenant", "garbage"]))
async def test_tripletex_webhook_refusals(edge: Edge, d: Delivery) -> None:
    await _tripletex(edge, d, tripletex_headers(d, str(uuid.uuid4())))


# --------------------------------------------------------------------------- the ingest API
TOKENS: dict[str, dict[str, Any]] = {
    "none": {},
    "wrong": {"authorization": "Bearer not-the-producers-token"},
    "basic": {"authorization": f"Basic {TOKEN}"},
    "non_ascii": {"authorization": "Bearer ø".encode() + b"\xff"},
    "empty": {"authorization": "Bearer "},
    "twice": {"authorization": f"Bearer {TOKEN} {TOKEN}"},
}
change_bodies = hostile(
    change_events(st.one_of(st.just(TENANT), st.just(OTHER), st.just("t-nobody"), hostile_text))
)


@SIGNED
@given(body=change_bodies)
async def test_ingest_api_hostile_changes_with_a_producers_token(edge: Edge, body: bytes) -> None:
    response = await edge.internal.post("/v1/changes", content=body, headers=BEARER)
    count("ingest /v1/changes", response)
    where = f"body={body[:300]!r}: {response.status_code} {response.text[:500]}"
    try:
        ChangeEvent.model_validate_json(body)
        valid = True
    except ValidationError:
        valid = False
    # Taken exactly when the contract takes it; otherwise 422 naming the fields.
    assert response.status_code == (202 if valid else 422), where
    if not valid:
        assert response.json()["details"], where


@REFUSED
@given(token=st.sampled_from(sorted(TOKENS)), body=change_bodies)
async def test_ingest_api_refuses_changes_without_a_producers_token(
    edge: Edge, token: str, body: bytes
) -> None:
    response = await edge.internal.post("/v1/changes", content=body, headers=TOKENS[token])
    count("ingest /v1/changes", response)
    assert response.status_code == 401, f"{token}: {response.status_code} {response.text[:500]}"
    assert response.json() == UNAUTHORIZED_BODY


# --------------------------------------------------------------------------- known hostile bodies
def _event(side: str, resource: str, data: dict[str, Any]) -> bytes:
    """A Svenn or Drifti webhook body for the known tenant around ``data``."""
    return encode(webhook_event(TENANT, resource, data, "updated"))


_RECORD = {
    "id": "cus_1",
    "version": 2,
    "created_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-02T10:00:00Z",
}
_PROJECT = {
    "id": 7,
    "version": 1,
    "name": "Roof",
    "number": "P-1",
    "startDate": "2026-01-05",
    "endDate": None,
    "isClosed": False,
    "isInternal": False,
    "mainProject": None,
    "customer": None,
    "participants": [],
}
KNOWN = [
    # Values the contracts bound (text over 2 000 characters, ids over 200, numbers past bigint).
    ("drifti", _event("drifti", "customer", {**_RECORD, "customer_number": "1", "name": "a" * 3000})),
    (
        "drifti",
        _event("drifti", "customer", {**_RECORD, "id": "c" * 300, "customer_number": "1", "name": "A"}),
    ),
    (
        "drifti",
        _event("drifti", "customer", {**_RECORD, "version": 10**30, "customer_number": "1", "name": "A"}),
    ),
    ("drifti", _event("drifti", "customer", {**_RECORD, "customer_number": "1\x00", "name": "A\x00"})),
    (
        "drifti",
        _event("drifti", "job", {**_RECORD, "job_number": "1", "title": "A", "customer_id": "cus_nope"}),
    ),
    (
        "drifti",
        _event("drifti", "job", {**_RECORD, "job_number": "1", "title": "A", "customer_id": "../x\x00?"}),
    ),
    (
        "svenn",
        _event("svenn", "customer", {**_RECORD, "version": 10**30, "customer_number": "1", "name": "A"}),
    ),
    ("svenn", _event("svenn", "customer", {**_RECORD, "id": "c\x00", "customer_number": "1", "name": "A"})),
    ("tripletex", encode({"event": "project.delete", "id": 10**300})),
    ("tripletex", encode({"event": "customer.delete", "id": -(2**63) - 1})),
    ("tripletex", encode({"event": "project.update", "id": 7, "value": {**_PROJECT, "version": 10**30}})),
    ("tripletex", encode({"event": "project.update", "id": 7, "value": {**_PROJECT, "name": "a" * 3000}})),
    # Wrong shapes inside a complete value: the mapping reads nested objects.
    (
        "tripletex",
        encode(
            {
                "event": "project.update",
                "id": 7,
                "value": {**_PROJECT, "participants": [{"id": 1, "employee": 5}]},
            }
        ),
    ),
    ("tripletex", encode({"event": "project.update", "id": 7, "value": {**_PROJECT, "participants": 5}})),
    ("tripletex", encode({"event": "project.update", "id": 7, "value": {**_PROJECT, "customer": [1]}})),
    ("tripletex", encode({"event": "project.update", "id": 7, "value": {**_PROJECT, "startDate": 5}})),
    ("tripletex", encode({"event": "project.update", "id": 7, "value": {**_PROJECT, "id": {"a": 1}}})),
    ("tripletex", encode({"event": "project.update", "id": 10**30, "value": None})),
    ("tripletex", encode({"event": "project.update", "id": -5})),
    ("export-hours", b'{"from": "9999-12-30", "to": "9999-12-31"}'),
    ("export-hours", b'{"from": "0001-01-01", "to": "0001-01-02"}'),
    ("export-hours", b'{"from": "2026-10-01", "to": "2026-10-01", "dry_run": "yes"}'),
]


@pytest.mark.parametrize(("route", "body"), KNOWN, ids=[f"{r}-{i}" for i, (r, _) in enumerate(KNOWN)])
async def test_known_hostile_bodies_signed(edge: Edge, route: str, body: bytes) -> None:
    d = Delivery(TENANT, "valid", b"", 0, body)
    if route == "tripletex":
        await _tripletex(edge, d, tripletex_headers(d, str(uuid.uuid4())))
    elif route == "svenn":
        await _svenn(edge, d)
    else:
        await _drifti(edge, d, "/export-hours" if route == "export-hours" else "")
