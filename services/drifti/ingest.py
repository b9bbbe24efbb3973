"""Drifti ingest: signed webhooks and catch-up polling of the streamed kinds, onto ``drifti.changes.v1``.

Customers, jobs, invoices (and credit notes) and payments: the kinds Drifti sends webhooks for
(``API.md`` §6). Both paths turn one Drifti record version into the same ``ChangeEvent`` (its
id derives from tenant, side, entity, id and version), so a webhook delivered twice, a poll
overlapping the last one, and a webhook racing a poll are one event downstream. The webhook
answers 202 only once Kafka has stored the event, so Drifti keeps retrying until then.

Invoice and payment snapshots embed their customer and job (``snapshots.py``); those are read
from Drifti through a small per-tenant cache (:class:`DriftiReader`), so a month's worth of
invoices costs one read per customer and job, not per invoice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.entities import EntitySnapshot
from contracts.envelope import ChangeEvent, ChangeKind, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import DRIFTI_CHANGES, record_key
from services.core import safe_errors, tracing
from services.core.http_edge import authenticate_webhook, unauthorized
from services.core.publisher import Publisher
from services.core.tenants import DriftiAccess, TenantConfig, TenantDirectory, UnknownTenant
from services.drifti.client import DriftiClient, DriftiError
from services.drifti.client.errors import DriftiNotFoundError
from services.drifti.client.models import Customer, Invoice, Job, Payment, WebhookEvent
from services.drifti.client.webhooks import signature_problem
from services.drifti.snapshots import (
    ENTITY_TYPE,
    DriftiRecord,
    customer_snapshot,
    invoice_snapshot,
    job_snapshot,
    payment_snapshot,
)

log = logging.getLogger(__name__)

WEBHOOK_ROUTE = "/webhooks/drifti/{tenant_id}"
_UNSET: Any = object()


class DriftiReader:
    """One tenant's Drifti client plus what enriching snapshots needs, read once and kept.

    Customers, jobs and invoices are cached by id; a record that comes through the ingest
    itself replaces its cached copy, so a renamed customer is seen from its next change on.
    """

    def __init__(self, client: DriftiClient) -> None:
        self.client = client
        self._customers: dict[str, Customer] = {}
        self._jobs: dict[str, Job] = {}
        self._invoices: dict[str, Invoice] = {}
        self._enabled_at: datetime | None = _UNSET

    async def integration_enabled_at(self) -> datetime | None:
        if self._enabled_at is _UNSET:
            self._enabled_at = (await self.client.me()).integration_enabled_at
        return self._enabled_at

    async def customer(self, customer_id: str) -> Customer:
        if customer_id not in self._customers:
            self._customers[customer_id] = await self.client.customers.get(customer_id)
        return self._customers[customer_id]

    async def job(self, job_id: str) -> Job:
        if job_id not in self._jobs:
            self._jobs[job_id] = await self.client.jobs.get(job_id)
        return self._jobs[job_id]

    async def invoice(self, invoice_id: str) -> Invoice:
        if invoice_id not in self._invoices:
            self._invoices[invoice_id] = await self.client.invoices.get(invoice_id)
        return self._invoices[invoice_id]

    async def snapshot(self, record: DriftiRecord) -> EntitySnapshot:
        """The record as a snapshot, with its customer (and job) embedded where Tripletex needs them."""
        if isinstance(record, Customer):
            self._customers[record.id] = record
            return customer_snapshot(record)
        enabled_at = await self.integration_enabled_at()
        if isinstance(record, Job):
            self._jobs[record.id] = record
            return job_snapshot(record, await self.customer(record.customer_id), enabled_at)
        if isinstance(record, Invoice):
            self._invoices[record.id] = record
            credited = None
            if record.credited_invoice_id is not None:
                credited = (await self.invoice(record.credited_invoice_id)).invoice_number
            return invoice_snapshot(
                record,
                await self.customer(record.customer_id),
                await self.job(record.job_id),
                enabled_at,
                credited,
            )
        invoice = await self.invoice(record.invoice_id)
        return payment_snapshot(
            record,
            invoice,
            await self.customer(record.customer_id),
            await self.job(invoice.job_id),
            enabled_at,
        )


def drifti_change_event(
    tenant_id: str,
    record: DriftiRecord,
    snapshot: EntitySnapshot,
    change_kind: ChangeKind,
    occurred_at: datetime,
    *,
    version_suffix: str = "",
) -> ChangeEvent:
    """One Drifti record version as a change event; the same version always gets the same ids.

    ``version_suffix`` marks a deliberate re-decision of the same version (an operator mapped
    an account, D-L1): a new, still deterministic event id, with the version still readable.
    """
    entity_type = ENTITY_TYPE[type(record)]
    version = f"{record.version}{version_suffix}"
    event_id = change_event_id(tenant_id, SourceSystem.DRIFTI.value, entity_type.value, record.id, version)
    return ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=event_id,
        event_id=event_id,
        source=SourceSystem.DRIFTI,
        entity_type=entity_type,
        entity_id=record.id,
        change_kind=change_kind,
        occurred_at=occurred_at,
        source_version=version,
        snapshot=snapshot,
    )


def change_kind_of(record: DriftiRecord) -> ChangeKind:
    return ChangeKind.CREATED if record.version == 1 else ChangeKind.UPDATED


async def event_of(reader: DriftiReader, tenant_id: str, record: DriftiRecord, **kw: str) -> ChangeEvent:
    snapshot = await reader.snapshot(record)
    return drifti_change_event(tenant_id, record, snapshot, change_kind_of(record), record.updated_at, **kw)


def _key(event: ChangeEvent) -> bytes:
    return record_key(event.tenant_id, event.entity_type, event.entity_id)


async def publish_events(publisher: Publisher, events: list[ChangeEvent]) -> None:
    """Publish and wait until Kafka has stored every one."""
    pending = [await publisher.send(DRIFTI_CHANGES, _key(e), e) for e in events]
    if pending:
        await asyncio.gather(*pending)


async def poll_drifti_changes(
    reader: DriftiReader, tenant_id: str, since: datetime, publisher: Publisher
) -> datetime:
    """Publish every streamed record changed at or after ``since``; return the next watermark.

    Customers and jobs first, then invoices, then payments, so a month read after downtime
    arrives roughly in the order it happened. ``updated_since`` is inclusive: the records at
    the watermark come again next time with the same event ids (repeats, not changes).
    Everything is stored by Kafka before the watermark moves.
    """
    client = reader.client
    watermark = since
    published = 0
    sources = (
        client.customers.changed_since,
        client.jobs.changed_since,
        client.invoices.changed_since,
        client.payments.changed_since,
    )
    for changed_since in sources:
        events = []
        async for record in changed_since(since):
            events.append(await event_of(reader, tenant_id, record))
            watermark = max(watermark, record.updated_at)
        await publish_events(publisher, events)
        published += len(events)
    log.info(
        "polled Drifti",
        extra={"tenant_id": tenant_id, "published": published, "watermark": watermark.isoformat()},
    )
    return watermark


class DriftiReaders:
    """One :class:`DriftiReader` per tenant for the ingest, replaced when the tenant's access changes."""

    def __init__(self, tenants: TenantDirectory, **client_options: Any) -> None:
        self._tenants = tenants
        self._options = client_options
        self._readers: dict[str, tuple[DriftiAccess, DriftiReader]] = {}
        self._lock = asyncio.Lock()

    async def __call__(self, tenant_id: str) -> DriftiReader:
        tenant = await self._tenants.get(tenant_id)
        if tenant.drifti is None:
            raise UnknownTenant(tenant_id)
        async with self._lock:
            cached = self._readers.get(tenant_id)
            if cached is not None and cached[0] == tenant.drifti:
                return cached[1]
            if cached is not None:
                await cached[1].client.aclose()
            reader = DriftiReader(
                DriftiClient(tenant.drifti.base_url, tenant.drifti.api_key, **self._options)
            )
            self._readers[tenant_id] = (tenant.drifti, reader)
            return reader

    async def aclose(self) -> None:
        readers, self._readers = self._readers, {}
        for _, reader in readers.values():
            await reader.client.aclose()


async def authenticate_drifti(
    tenants: TenantDirectory, tenant_id: str, body: bytes, request: Request
) -> tuple[TenantConfig | None, str]:
    """``(tenant, "")`` when Drifti signed the request with the tenant's webhook secret, else ``(None, why)``.

    For the webhooks and for the hours export Drifti's button calls: signed the same way.
    """
    return await authenticate_webhook(
        tenants,
        tenant_id,
        lambda t: t.drifti.webhook_secret if t.drifti is not None else None,
        lambda secret: signature_problem(secret, body, request.headers),
    )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status)


def drifti_webhook_routes(
    publisher: Publisher, tenants: TenantDirectory, readers: DriftiReaders
) -> APIRouter:
    """``POST /webhooks/drifti/{tenant_id}``: verify, map, publish, answer 202 (or a 4xx saying why)."""
    router = APIRouter()

    @router.post(WEBHOOK_ROUTE, status_code=202)
    async def receive_drifti_webhook(tenant_id: str, request: Request) -> JSONResponse:
        body = await request.body()  # raw bytes: the signature covers exactly these
        with tracing.webhook_span(WEBHOOK_ROUTE, tenant_id, request.headers) as span:
            response = await _receive(publisher, tenants, readers, tenant_id, body, request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    return router


async def _receive(
    publisher: Publisher,
    tenants: TenantDirectory,
    readers: DriftiReaders,
    tenant_id: str,
    body: bytes,
    request: Request,
) -> JSONResponse:
    def rejected(status: int, code: str, message: str) -> JSONResponse:
        log.warning(
            "rejected a Drifti webhook",
            extra={"tenant_id": tenant_id, "status": status, "code": code, "reason": message},
        )
        return _error(status, code, message)

    # Authentic before anything is parsed; every refusal gets the same 401 (the reason is logged).
    tenant, refusal = await authenticate_drifti(tenants, tenant_id, body, request)
    if tenant is None:
        return unauthorized(log, "a Drifti webhook", refusal)
    try:
        webhook = WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        return rejected(422, "INVALID_EVENT", f"The body is not a Drifti event: {exc.error_count()} errors")
    if webhook.tenant != tenant_id:
        return rejected(400, "TENANT_MISMATCH", f"The event is for Drifti tenant {webhook.tenant!r}.")
    try:
        record: Customer | Job | Invoice | Payment = webhook.record()
    except ValidationError as exc:
        return rejected(
            422, "INVALID_EVENT", f"The event's data is not a Drifti {webhook.resource_type}: {exc}"
        )
    if record.id != webhook.resource_id or record.version != webhook.resource_version:
        return rejected(422, "INVALID_EVENT", "webhook data does not match its resource_id/resource_version")
    try:
        event = await event_of(await readers(tenant_id), tenant_id, record)
        await publisher.store(DRIFTI_CHANGES, _key(event), event)
    except ValidationError as exc:
        # Signed, but beyond what the engine stores (text over 2 000 characters, an id over 200,
        # a number past bigint): refused naming the fields, never a 500 (fuzzing, issue 10).
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        return rejected(422, "INVALID_EVENT", f"The record does not fit the engine's contract: {fields}")
    except DriftiNotFoundError:
        # It names a customer, job or invoice Drifti does not have: retrying will not find it.
        return rejected(422, "UNKNOWN_REFERENCE", "The record refers to a record Drifti does not have.")
    except DriftiError as exc:
        # The customer or job could not be read: not stored, so not acknowledged; Drifti retries.
        log.error(
            "could not read from Drifti", extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)}
        )
        return _error(503, "UNAVAILABLE", "Drifti could not be read; retry later.")
    except (TimeoutError, KafkaError, ConnectionError) as exc:
        log.error(
            "could not publish a Drifti change",
            extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
        )
        return _error(503, "UNAVAILABLE", "The change could not be stored; retry later.")
    return JSONResponse({"event_id": str(event.event_id), "topic": DRIFTI_CHANGES}, status_code=202)
