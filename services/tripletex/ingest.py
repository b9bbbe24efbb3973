"""Tripletex ingest: signed webhooks onto ``tripletex.changes.v1`` (the full pass: ``catch_up.py``).

Tripletex POSTs ``{subscriptionId, event, id, value}`` per change (REFERENCE §5.9). Both paths
here turn a Tripletex record at one ``version`` into the same ``ChangeEvent``: its id is
``change_event_id(tenant, "tripletex", entity, id, version)``, so a webhook delivered twice, a
reconciliation that sees a record the webhooks already brought, and a webhook racing the
reconciliation all yield one event id, which everything downstream absorbs as a repeat.

Why each piece is the way it is:

* The webhook answers 2xx only after Kafka has stored the event; anything less and Tripletex
  would stop retrying a change the engine never kept. An outage answers 503 (Tripletex
  retries, and the nightly pass is the net under deliveries it gives up on).
* The signature is ``base64(HmacSHA512(idempotency-key + "&" + raw body))`` with the tenant's
  ``webhook_secret``, checked in constant time before the body is even parsed. Every refusal
  (unknown tenant, no secret, no or wrong signature) is the same 401.
* Tripletex's scheme has no timestamp, so a captured delivery verifies forever: the answer to
  each delivery is remembered by its ``idempotency-key`` for ``TRIPLETEX_DEDUPE_WINDOW_S``, and a
  repeat within that window gets the same 202 and publishes nothing. A repeat after it, or at
  another replica, publishes an event with the same id, which everything downstream absorbs.
* A ``value`` that lacks what the mapping reads (a subscription made without our ``fields``)
  is not trusted: the record is fetched by id with the same ``fields`` selection. Tripletex
  "might skip over a version number or two, but sends over the latest version", so the fetched
  (possibly newer) record is as good as the one the webhook was about.
* A project's source version also covers its participants (``project_source_version``):
  adding a participant does not bump the project's ``version``, yet it is a change (S-P8).
* A delete has no version. Its marker is the constant ``"deleted"``: Tripletex ids are never
  reused, so a record is deleted at most once, and every delivery of that one deletion
  (redelivered, or sent to two subscriptions with different idempotency keys) gets one event id.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.trace import Span
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from contracts.bounds import BIGINT_MAX
from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import TRIPLETEX_CHANGES, record_key
from services.core import safe_errors, tracing
from services.core.http_edge import RecentAnswers, authenticate_webhook, unauthorized
from services.core.publisher import Publisher
from services.core.tenants import TenantDirectory, TripletexAccess, UnknownTenant
from services.tripletex.client import (
    ClientSettings,
    LimiterRegistry,
    TripletexClient,
    TripletexError,
    TripletexNotFound,
)
from services.tripletex.mapping import (
    CUSTOMER_FIELDS,
    EMPLOYEE_FIELDS,
    ENTITY_OF_SUBJECT,
    PROJECT_FIELDS,
    MappingError,
    TripletexRecord,
    is_complete,
    record_id,
    snapshot_of,
    version_of,
)

log = logging.getLogger(__name__)

WEBHOOK_ROUTE = "/webhooks/tripletex/{tenant_id}"
SIGNATURE_HEADER = "x-request-signature"
IDEMPOTENCY_HEADER = "idempotency-key"
DELETED_VERSION = "deleted"
DEDUPE_WINDOW_S = 3600.0  # the default of TRIPLETEX_DEDUPE_WINDOW_S

_KINDS = {"create": ChangeKind.CREATED, "update": ChangeKind.UPDATED, "delete": ChangeKind.DELETED}


# --------------------------------------------------------------------------- signatures
def expected_signature(secret: str | SecretStr, idempotency_key: str, body: bytes) -> str:
    """``x-request-signature`` as Tripletex computes it (REFERENCE §5.9, API 2.71.19)."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    mac = hmac.new(raw.encode(), idempotency_key.encode() + b"&" + body, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def signature_problem(
    secret: str | SecretStr, body: bytes, idempotency_key: str | None, signature: str | None
) -> str | None:
    """Why a delivery's signature is not acceptable, or ``None`` when it is."""
    if not idempotency_key:
        return f"The {IDEMPOTENCY_HEADER} header is missing; the signature covers it."
    if not signature:
        return f"The {SIGNATURE_HEADER} header is missing."
    # Bytes, never str: a non-ASCII header value is a mismatch, not a TypeError (a 500).
    expected = expected_signature(secret, idempotency_key, body).encode()
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "surrogateescape")):
        return "The signature does not match the body."
    return None


# --------------------------------------------------------------------------- fetching records
class RecordFetcher(Protocol):
    async def __call__(
        self, tenant_id: str, entity_type: EntityType, record_id: int
    ) -> TripletexRecord | None:
        """The record with the mapping's ``fields``, or ``None`` when Tripletex no longer has it."""
        ...


ClientFactory = Callable[[str], Awaitable[TripletexClient]]
"""Gives the tenant's ``TripletexClient`` (kept open by whoever made it)."""


class TripletexClients:
    """One ``TripletexClient`` per tenant, built from the tenant directory and kept for the process.

    A client owns the tenant's session token and its rate-limit pacing, so it is reused, not
    made per webhook; when the tenant's access changes (new tokens) the client is replaced.
    ``http_client``/``transport`` let tests point every client at a simulator.
    """

    def __init__(
        self,
        tenants: TenantDirectory,
        *,
        settings: ClientSettings | None = None,
        limiters: LimiterRegistry | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._tenants = tenants
        self._settings = settings or ClientSettings()
        self._limiters = limiters or LimiterRegistry(self._settings.limiter)
        self._http_client = http_client
        self._transport = transport
        self._clients: dict[str, tuple[TripletexAccess, TripletexClient]] = {}
        self._lock = asyncio.Lock()  # two first webhooks of a tenant must not build two clients

    async def __call__(self, tenant_id: str) -> TripletexClient:
        tenant = await self._tenants.get(tenant_id)
        if tenant.tripletex is None:
            raise UnknownTenant(tenant_id)
        async with self._lock:
            return await self._client(tenant_id, tenant.tripletex)

    async def _client(self, tenant_id: str, access: TripletexAccess) -> TripletexClient:
        cached = self._clients.get(tenant_id)
        if cached is not None and cached[0] == access:
            return cached[1]
        if cached is not None:
            await cached[1].aclose()
        client = TripletexClient(
            access.base_url,
            tenant_id,
            consumer_token=access.consumer_token,
            employee_token=access.employee_token,
            settings=self._settings,
            http_client=self._http_client,
            transport=self._transport,
            limiters=self._limiters,
        )
        self._clients[tenant_id] = (access, client)
        return client

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for _, client in clients.values():
            await client.aclose()


def client_fetcher(clients: ClientFactory) -> RecordFetcher:
    """A ``RecordFetcher`` that reads through the tenant's ``TripletexClient``."""

    async def fetch(tenant_id: str, entity_type: EntityType, record_id: int) -> TripletexRecord | None:
        client = await clients(tenant_id)
        try:
            if entity_type is EntityType.PROJECT:
                return await client.projects.get(record_id, fields=PROJECT_FIELDS)
            if entity_type is EntityType.CUSTOMER:
                return await client.customers.get(record_id, fields=CUSTOMER_FIELDS)
            return await client.employees.get(record_id, fields=EMPLOYEE_FIELDS)
        except TripletexNotFound:
            return None

    return fetch


# --------------------------------------------------------------------------- events
def tripletex_change_event(
    tenant_id: str,
    entity_type: EntityType,
    record: TripletexRecord,
    change_kind: ChangeKind,
    occurred_at: datetime | None = None,
) -> ChangeEvent:
    """One Tripletex record version as a change event; the same version always gets the same ids.

    The correlation id is the event id: this is the first message of its chain, and deriving
    it (instead of a random one) keeps a redelivered webhook's event identical to the first.
    """
    entity_id = record_id(record)
    version = version_of(record)
    if version is None:
        raise MappingError(f"Tripletex {entity_type.value} {entity_id} has no version")
    snapshot = snapshot_of(entity_type, record)
    if isinstance(snapshot, ProjectSnapshot):
        version = project_source_version(version, snapshot.member_ids)
    event_id = change_event_id(tenant_id, SourceSystem.TRIPLETEX.value, entity_type.value, entity_id, version)
    return ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=event_id,
        event_id=event_id,
        source=SourceSystem.TRIPLETEX,
        entity_type=entity_type,
        entity_id=entity_id,
        change_kind=change_kind,
        occurred_at=occurred_at or datetime.now(UTC),
        source_version=version,
        snapshot=snapshot,
    )


def project_source_version(version: str, member_ids: tuple[str, ...]) -> str:
    """A project's source version: its ``version`` plus a digest of its participants (S-P8).

    Participants are objects of their own (``/project/participant``); adding one does not
    change the project's ``version`` (so the simulator, and nothing in Tripletex's docs says
    otherwise). With the bare version, the nightly pass would give a project whose
    participants changed the id of the event already seen, and the new members would be
    absorbed downstream as a repeat, never synced. The digest keeps "same state, same id"
    (a redelivery or a re-run still repeats its id) while a new participant set is news.
    """
    digest = hashlib.sha256(",".join(member_ids).encode()).hexdigest()[:10]
    return f"{version}+p{digest}"


def tripletex_delete_event(
    tenant_id: str, entity_type: EntityType, entity_id: str, occurred_at: datetime | None = None
) -> ChangeEvent:
    """A deletion: no snapshot, and the version marker ``"deleted"`` (see the module docstring)."""
    event_id = change_event_id(
        tenant_id, SourceSystem.TRIPLETEX.value, entity_type.value, entity_id, DELETED_VERSION
    )
    return ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=event_id,
        event_id=event_id,
        source=SourceSystem.TRIPLETEX,
        entity_type=entity_type,
        entity_id=entity_id,
        change_kind=ChangeKind.DELETED,
        occurred_at=occurred_at or datetime.now(UTC),
        source_version=DELETED_VERSION,
        snapshot=None,
    )


def _key(event: ChangeEvent) -> bytes:
    return record_key(event.tenant_id, event.entity_type, event.entity_id)


# --------------------------------------------------------------------------- webhook receiver
class WebhookPayload(BaseModel):
    """What Tripletex POSTs; ``value`` is the object filtered by the subscription's ``fields``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    subscription_id: int | None = Field(default=None, alias="subscriptionId")
    event: str = Field(min_length=3)
    id: int = Field(ge=0, le=BIGINT_MAX)  # a Tripletex id; beyond bigint it is no record's
    value: dict[str, Any] | None = None


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message, **extra}}, status)


def tripletex_webhook_routes(
    publisher: Publisher,
    tenants: TenantDirectory,
    fetch: RecordFetcher,
    *,
    recent: RecentAnswers | None = None,
) -> APIRouter:
    """``POST /webhooks/tripletex/{tenant_id}``: verify, map (fetching if needed), publish, 202.

    Mount it next to the generic ingest routes: ``app.include_router(tripletex_webhook_routes(
    publisher, tenants, client_fetcher(TripletexClients(tenants))))``. ``recent`` remembers the
    answers to deliveries by tenant and ``idempotency-key``: a delivery seen within its window
    gets the same 202 again and publishes nothing (the signature covers the key, so only the
    holder of the secret can make a new one; Tripletex itself repeats a key only on a retry).
    """
    router = APIRouter()
    answers = recent if recent is not None else RecentAnswers(DEDUPE_WINDOW_S)

    @router.post(WEBHOOK_ROUTE, status_code=202)
    async def receive_tripletex_webhook(tenant_id: str, request: Request) -> Response:
        body = await request.body()  # raw bytes: the signature covers exactly these
        with tracing.webhook_span(WEBHOOK_ROUTE, tenant_id, request.headers) as span:
            response = await _receive(publisher, tenants, fetch, answers, tenant_id, body, request, span)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    return router


async def _receive(
    publisher: Publisher,
    tenants: TenantDirectory,
    fetch: RecordFetcher,
    answers: RecentAnswers,
    tenant_id: str,
    body: bytes,
    request: Request,
    span: Span,
) -> Response:
    delivery = request.headers.get(IDEMPOTENCY_HEADER)

    def rejected(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
        log.warning(
            "rejected a Tripletex webhook",
            extra={
                "tenant_id": tenant_id,
                "status": status,
                "code": code,
                "reason": message,
                "idempotency_key": delivery,
            },
        )
        return _error(status, code, message, **extra)

    # Authentic before anything is parsed; every refusal gets the same 401 (the reason is logged).
    tenant, refusal = await authenticate_webhook(
        tenants,
        tenant_id,
        lambda t: t.tripletex.webhook_secret if t.tripletex is not None else None,
        lambda secret: signature_problem(secret, body, delivery, request.headers.get(SIGNATURE_HEADER)),
    )
    if tenant is None or delivery is None:
        return unauthorized(log, "a Tripletex webhook", refusal)
    seen = answers.get((tenant_id, delivery))
    if seen is not None:
        log.info("a Tripletex delivery came again; answered as before", extra={"idempotency_key": delivery})
        span.set_attribute("tsync.repeated_delivery", True)
        return seen
    response = await _accept(publisher, fetch, tenant_id, body, span, rejected)
    if response.status_code == 202:
        answers.put((tenant_id, delivery), response)
    return response


async def _accept(
    publisher: Publisher,
    fetch: RecordFetcher,
    tenant_id: str,
    body: bytes,
    span: Span,
    rejected: Callable[..., JSONResponse],
) -> JSONResponse:
    """An authentic delivery: map it (fetching the record when its value is not complete), publish, 202."""
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return rejected(422, "INVALID_EVENT", "The body is not a Tripletex event.", details=details[:10])
    span.set_attribute("tripletex.event", payload.event)
    subject, _, verb = payload.event.partition(".")
    entity_type = ENTITY_OF_SUBJECT.get(subject)
    kind = _KINDS.get(verb)
    if entity_type is None or kind is None:
        # voucher.*, account.*, invoice.charged …: subscribed by someone, not synced by the engine.
        log.debug("ignored a Tripletex event the engine does not sync", extra={"event": payload.event})
        return JSONResponse({"ignored": payload.event}, status_code=202)

    if kind is ChangeKind.DELETED:
        event = tripletex_delete_event(tenant_id, entity_type, str(payload.id))
    else:
        record: TripletexRecord | None = payload.value
        if record is None or not is_complete(entity_type, record):
            try:
                record = await fetch(tenant_id, entity_type, payload.id)
            except (TripletexError, httpx.HTTPError, UnknownTenant) as exc:
                log.error(
                    "could not fetch a Tripletex record",
                    extra={
                        "tenant_id": tenant_id,
                        "event": payload.event,
                        "id": payload.id,
                        "error": safe_errors.describe(exc),
                    },
                )
                return _error(503, "UNAVAILABLE", "Tripletex could not be read; retry later.")
            if record is None:
                # Deleted since: its own *.delete webhook carries that change.
                log.info(
                    "Tripletex record is gone; nothing to publish",
                    extra={"tenant_id": tenant_id, "event": payload.event, "id": payload.id},
                )
                return JSONResponse({"ignored": payload.event, "reason": "record gone"}, status_code=202)
        try:
            if record_id(record) != str(payload.id):
                raise MappingError(f"value.id {record_id(record)} is not the event's id {payload.id}")
            event = tripletex_change_event(tenant_id, entity_type, record, kind)
        except (MappingError, ValidationError, TypeError, AttributeError, KeyError) as exc:
            # A signed value of the wrong shape (a list where an object belongs …): 422, never a 500.
            return rejected(422, "UNMAPPABLE_RECORD", str(exc))
    span.set_attribute("tsync.event_id", str(event.event_id))
    try:
        await publisher.store(TRIPLETEX_CHANGES, _key(event), event)
    except (TimeoutError, KafkaError, ConnectionError, RuntimeError) as exc:
        # Not stored, so not acknowledged: Tripletex retries (and the nightly pass backs it up).
        log.error(
            "could not publish a Tripletex change",
            extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
        )
        return _error(503, "UNAVAILABLE", "The change could not be stored; retry later.")
    return JSONResponse({"event_id": str(event.event_id), "topic": TRIPLETEX_CHANGES}, status_code=202)


__all__ = [
    "RecordFetcher",
    "TripletexClients",
    "client_fetcher",
    "expected_signature",
    "project_source_version",
    "tripletex_change_event",
    "tripletex_delete_event",
    "tripletex_webhook_routes",
]
