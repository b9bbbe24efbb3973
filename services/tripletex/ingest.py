"""Tripletex ingest: signed webhooks and a nightly reconciliation, both onto ``tripletex.changes.v1``.

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
  ``webhook_secret``, checked in constant time before the body is even parsed.
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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from opentelemetry.trace import Span
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import TRIPLETEX_CHANGES, record_key
from services.core import tracing
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
    FIELDS_OF,
    PROJECT_FIELDS,
    MappingError,
    TripletexRecord,
    as_json,
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
OSLO = ZoneInfo("Europe/Oslo")

_KINDS = {"create": ChangeKind.CREATED, "update": ChangeKind.UPDATED, "delete": ChangeKind.DELETED}
# What the engine subscribes to: every verb of every synced subject (each verb is its own subscription).
SUBSCRIBED_EVENTS: tuple[str, ...] = tuple(
    f"{subject}.{verb}" for subject in ENTITY_OF_SUBJECT for verb in ("create", "update", "delete")
)


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
    if not hmac.compare_digest(expected_signature(secret, idempotency_key, body), signature.strip()):
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
    id: int
    value: dict[str, Any] | None = None


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message, **extra}}, status)


def tripletex_webhook_routes(
    publisher: Publisher, tenants: TenantDirectory, fetch: RecordFetcher
) -> APIRouter:
    """``POST /webhooks/tripletex/{tenant_id}``: verify, map (fetching if needed), publish, 202.

    Mount it next to the generic ingest routes: ``app.include_router(tripletex_webhook_routes(
    publisher, tenants, client_fetcher(TripletexClients(tenants))))``.
    """
    router = APIRouter()

    @router.post(WEBHOOK_ROUTE, status_code=202)
    async def receive_tripletex_webhook(tenant_id: str, request: Request) -> JSONResponse:
        body = await request.body()  # raw bytes: the signature covers exactly these
        with tracing.webhook_span(WEBHOOK_ROUTE, tenant_id, request.headers) as span:
            response = await _receive(publisher, tenants, fetch, tenant_id, body, request, span)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    return router


async def _receive(
    publisher: Publisher,
    tenants: TenantDirectory,
    fetch: RecordFetcher,
    tenant_id: str,
    body: bytes,
    request: Request,
    span: Span,
) -> JSONResponse:
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

    try:
        tenant = await tenants.get(tenant_id)
    except UnknownTenant:
        return rejected(404, "UNKNOWN_TENANT", f"No tenant {tenant_id!r} is registered.")
    if tenant.tripletex is None or tenant.tripletex.webhook_secret is None:
        return rejected(403, "WEBHOOKS_NOT_CONFIGURED", "This tenant has no Tripletex webhook secret.")
    problem = signature_problem(
        tenant.tripletex.webhook_secret, body, delivery, request.headers.get(SIGNATURE_HEADER)
    )
    if problem is not None:
        return rejected(401, "INVALID_SIGNATURE", problem)
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
                        "error": str(exc),
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
        except (MappingError, ValidationError) as exc:
            return rejected(422, "UNMAPPABLE_RECORD", str(exc))
    span.set_attribute("tsync.event_id", str(event.event_id))
    try:
        await (await publisher.send(TRIPLETEX_CHANGES, _key(event), event))
    except (TimeoutError, KafkaError, ConnectionError, RuntimeError) as exc:
        # Not stored, so not acknowledged: Tripletex retries (and the nightly pass backs it up).
        log.error("could not publish a Tripletex change", extra={"tenant_id": tenant_id, "error": repr(exc)})
        return _error(503, "UNAVAILABLE", "The change could not be stored; retry later.")
    return JSONResponse({"event_id": str(event.event_id), "topic": TRIPLETEX_CHANGES}, status_code=202)


# --------------------------------------------------------------------------- reconciliation
@dataclass
class ReconcileReport:
    """What one reconciliation pass published (``skipped``: records that could not be mapped)."""

    tenant_id: str
    projects: int = 0
    customers: int = 0
    employees: int = 0
    skipped: int = 0
    event_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def published(self) -> int:
        return self.projects + self.customers + self.employees


_FLUSH_EVERY = 500


async def reconcile_tripletex(
    client: TripletexClient,
    tenant_id: str,
    publisher: Publisher,
    *,
    customers_changed_since: datetime | None = None,
) -> ReconcileReport:
    """Publish an ``updated`` change event for every project, customer and employee.

    Tripletex's webhooks may skip versions and are retried for an undocumented while only, so
    Tripletex recommends a nightly full sync (REFERENCE §5.9); this is it. Records the
    webhooks already brought produce the ids they produced then, so downstream absorbs them;
    only what was missed is new. Deletions are not seen here (a listing cannot show absence).
    ``customers_changed_since`` narrows customers (the only one of the three with
    ``changedSince``); projects and employees are always listed in full. Every event is
    confirmed by Kafka before this returns.
    """
    report = ReconcileReport(tenant_id)
    pending: list[asyncio.Future[Any]] = []
    with tracing.tracer().start_as_current_span(
        "tripletex reconcile", attributes={"tsync.tenant_id": tenant_id}
    ) as span:
        seen: set[tuple[EntityType, str]] = set()
        async for entity_type, record in list_tripletex_records(
            client, customers_changed_since=customers_changed_since
        ):
            try:
                event = tripletex_change_event(tenant_id, entity_type, record, ChangeKind.UPDATED)
            except (MappingError, ValidationError) as exc:
                report.skipped += 1
                log.warning(
                    "skipped a Tripletex record that does not map",
                    extra={"tenant_id": tenant_id, "entity_type": entity_type.value, "error": str(exc)},
                )
                continue
            if (entity_type, event.entity_id) in seen:
                continue  # a record that moved between pages while we read them
            seen.add((entity_type, event.entity_id))
            pending.append(await publisher.send(TRIPLETEX_CHANGES, _key(event), event))
            report.event_ids.append(str(event.event_id))
            _count(report, entity_type)
            if len(pending) >= _FLUSH_EVERY:
                await asyncio.gather(*pending)
                pending.clear()
        if pending:
            await asyncio.gather(*pending)
        span.set_attribute("tsync.published", report.published)
    log.info(
        "reconciled Tripletex",
        extra={
            "tenant_id": tenant_id,
            "projects": report.projects,
            "customers": report.customers,
            "employees": report.employees,
            "skipped": report.skipped,
        },
    )
    return report


async def list_tripletex_records(
    client: TripletexClient, *, customers_changed_since: datetime | None = None
) -> AsyncIterator[tuple[EntityType, dict[str, Any]]]:
    """Every project (with participants), customer (active and inactive) and employee, as JSON."""
    sources: list[tuple[EntityType, AsyncIterator[Any]]] = [
        (EntityType.PROJECT, client.projects.iterate(fields=PROJECT_FIELDS)),
        (EntityType.CUSTOMER, _all_customers(client, customers_changed_since)),
        (EntityType.EMPLOYEE, client.employees.iterate(fields=EMPLOYEE_FIELDS)),
    ]
    for entity_type, records in sources:
        async for model in records:
            yield entity_type, as_json(model)


async def _all_customers(client: TripletexClient, changed_since: datetime | None) -> AsyncIterator[Any]:
    """Active and inactive customers: ``isInactive`` defaults to false and hides inactive ones."""
    for inactive in (False, True):
        if changed_since is None:
            pages = client.customers.iterate(fields=CUSTOMER_FIELDS, isInactive=inactive)
        else:
            # Tripletex's DateTime is local (Europe/Oslo) without an offset.
            local = changed_since.astimezone(OSLO) if changed_since.tzinfo else changed_since
            since = local.strftime("%Y-%m-%dT%H:%M:%S")
            pages = client.customers.iterate(fields=CUSTOMER_FIELDS, isInactive=inactive, changedSince=since)
        async for customer in pages:
            yield customer


def _count(report: ReconcileReport, entity_type: EntityType) -> None:
    if entity_type is EntityType.PROJECT:
        report.projects += 1
    elif entity_type is EntityType.CUSTOMER:
        report.customers += 1
    else:
        report.employees += 1


# --------------------------------------------------------------------------- subscriptions
@dataclass
class SubscriptionReport:
    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def webhook_url(public_base_url: str, tenant_id: str) -> str:
    """The tenant's receiver URL as Tripletex must call it (HTTPS in production)."""
    return public_base_url.rstrip("/") + WEBHOOK_ROUTE.format(tenant_id=tenant_id)


async def ensure_subscriptions(
    client: TripletexClient,
    tenant_id: str,
    target_url: str,
    *,
    hmac_secret: str | SecretStr | None = None,
    refresh: bool = False,
) -> SubscriptionReport:
    """Subscribe ``target_url`` to project/customer/employee create/update/delete, idempotently.

    A subscription for the same event and URL that exists is kept; a disabled one
    (``DISABLED_TOO_MANY_ERRORS`` after an outage …) is switched back on. ``hmacSharedSecret``
    is write-only, so whether an existing subscription has the current secret cannot be
    read: pass ``refresh=True`` after rotating the secret to rewrite it (and ``fields``) on
    every existing one. Each subscription asks for the mapping's ``fields`` so webhook values
    arrive complete and need no fetch. The client has no event-subscription API yet, so this
    goes through its transport (same auth, retries and rate limits).
    """
    secret = hmac_secret.get_secret_value() if isinstance(hmac_secret, SecretStr) else hmac_secret
    response = await client.transport.request(
        "GET", "/event/subscription", params={"fields": "id,version,event,targetUrl,status", "count": 1000}
    )
    existing: dict[str, dict[str, Any]] = {}
    for row in response.json().get("values") or []:
        if row.get("targetUrl") == target_url and row.get("event") in SUBSCRIBED_EVENTS:
            previous = existing.get(row["event"])
            if previous is None or (previous.get("status") != "ACTIVE" and row.get("status") == "ACTIVE"):
                existing[row["event"]] = row
    report = SubscriptionReport()
    for event_name in SUBSCRIBED_EVENTS:
        subject = event_name.split(".")[0]
        wanted: dict[str, Any] = {"event": event_name, "targetUrl": target_url}
        if not event_name.endswith(".delete"):  # a delete's value is null: fields mean nothing
            wanted["fields"] = FIELDS_OF[ENTITY_OF_SUBJECT[subject]]
        if secret:
            wanted["hmacSharedSecret"] = secret
        row = existing.get(event_name)
        if row is None:
            await client.transport.request("POST", "/event/subscription", json=wanted)
            report.created.append(event_name)
        elif row.get("status") != "ACTIVE" or refresh:
            body = {**wanted, "id": row["id"], "version": row.get("version"), "status": "ACTIVE"}
            await client.transport.request("PUT", f"/event/subscription/{row['id']}", json=body)
            (report.reactivated if row.get("status") != "ACTIVE" else report.kept).append(event_name)
        else:
            report.kept.append(event_name)
    log.info(
        "ensured Tripletex subscriptions",
        extra={
            "tenant_id": tenant_id,
            "created": len(report.created),
            "reactivated": len(report.reactivated),
        },
    )
    return report


__all__ = [
    "ReconcileReport",
    "RecordFetcher",
    "SubscriptionReport",
    "TripletexClients",
    "client_fetcher",
    "ensure_subscriptions",
    "expected_signature",
    "project_source_version",
    "reconcile_tripletex",
    "tripletex_change_event",
    "tripletex_delete_event",
    "tripletex_webhook_routes",
    "webhook_url",
]
