"""Svenn ingest: signed webhooks (here) and catch-up polling (``catch_up.py``), onto ``svenn.changes.v1``.

Both paths turn a Svenn record at one version into the same ``ChangeEvent``: its id is
derived from (tenant, side, entity, id, version), so a webhook Svenn delivers twice, a poll
that overlaps the last one, and a webhook that races a poll all yield one event id, which
everything downstream recognises as a repeat. The webhook answers 202 only once Kafka has
stored the event: anything less and Svenn would stop retrying a change the engine never kept.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from contracts.envelope import ChangeEvent, ChangeKind, SourceSystem
from contracts.ids import change_event_id
from contracts.topics import SVENN_CHANGES, record_key
from services.core import safe_errors, tracing
from services.core.http_edge import authenticate_webhook, unauthorized
from services.core.publisher import Publisher
from services.core.tenants import TenantDirectory
from services.svenn.client.models import WebhookEvent
from services.svenn.client.webhooks import signature_problem
from services.svenn.mapping import (
    SvennRecord,
    change_kind_of_event,
    entity_type_of,
    snapshot_of,
)

log = logging.getLogger(__name__)

WEBHOOK_ROUTE = "/webhooks/svenn/{tenant_id}"


def svenn_change_event(
    tenant_id: str, record: SvennRecord, change_kind: ChangeKind, occurred_at: datetime
) -> ChangeEvent:
    """One Svenn record version as a change event; the same version always gets the same ids.

    The correlation id is the event id: this is the first message of its chain, and deriving
    it (instead of a random one) keeps a redelivered webhook's event identical to the first.
    """
    entity_type = entity_type_of(record)
    version = str(record.version)
    event_id = change_event_id(tenant_id, SourceSystem.SVENN.value, entity_type.value, record.id, version)
    deleted = change_kind is ChangeKind.DELETED
    return ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=event_id,
        event_id=event_id,
        source=SourceSystem.SVENN,
        entity_type=entity_type,
        entity_id=record.id,
        change_kind=change_kind,
        occurred_at=occurred_at,
        source_version=version,
        snapshot=None if deleted else snapshot_of(record),
    )


def event_from_webhook(tenant_id: str, event: WebhookEvent) -> ChangeEvent:
    """A verified webhook as a change event; raises ``ValueError``/``ValidationError`` if it does not map."""
    record = event.record()
    if record.id != event.resource_id or record.version != event.resource_version:
        raise ValueError("webhook data does not match its resource_id/resource_version")
    kind = change_kind_of_event(event.event_type)
    if kind is not ChangeKind.DELETED and record.status == "deleted":
        kind = ChangeKind.DELETED  # data is the truth: a deleted record has no snapshot to sync
    return svenn_change_event(tenant_id, record, kind, event.occurred_at)


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message, **extra}}, status)


def svenn_webhook_routes(publisher: Publisher, tenants: TenantDirectory) -> APIRouter:
    """``POST /webhooks/svenn/{tenant_id}``: verify, map, publish, answer 202 (or a 4xx that says why)."""
    router = APIRouter()

    @router.post(WEBHOOK_ROUTE, status_code=202)
    async def receive_svenn_webhook(tenant_id: str, request: Request) -> JSONResponse:
        body = await request.body()  # raw bytes: the signature covers exactly these
        with tracing.webhook_span(WEBHOOK_ROUTE, tenant_id, request.headers) as span:
            response = await _receive(publisher, tenants, tenant_id, body, request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    return router


async def _receive(
    publisher: Publisher, tenants: TenantDirectory, tenant_id: str, body: bytes, request: Request
) -> JSONResponse:
    def rejected(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
        log.warning(
            "rejected a Svenn webhook",
            extra={
                "tenant_id": tenant_id,
                "status": status,
                "code": code,
                "reason": message,
                "svenn_event_id": request.headers.get("x-svenn-event-id"),
            },
        )
        return _error(status, code, message, **extra)

    # Authentic before anything is parsed; every refusal gets the same 401 (the reason is logged).
    tenant, refusal = await authenticate_webhook(
        tenants,
        tenant_id,
        lambda t: t.svenn.webhook_secret if t.svenn is not None else None,
        lambda secret: signature_problem(secret, body, request.headers),
    )
    if tenant is None:
        return unauthorized(log, "a Svenn webhook", refusal)
    try:
        webhook = WebhookEvent.model_validate_json(body)
        if webhook.tenant != tenant_id:
            return rejected(
                400,
                "TENANT_MISMATCH",
                f"The event is for Svenn tenant {webhook.tenant!r}, not {tenant_id!r}.",
            )
        event = event_from_webhook(tenant_id, webhook)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return rejected(422, "INVALID_EVENT", "The body is not a Svenn event.", details=details[:10])
    except ValueError as exc:
        return rejected(422, "INVALID_EVENT", str(exc))
    try:
        await publisher.store(SVENN_CHANGES, _key(event), event)
    except (TimeoutError, KafkaError, ConnectionError) as exc:
        # Not stored, so not acknowledged: Svenn retries the delivery (and polling backs it up).
        log.error(
            "could not publish a Svenn change",
            extra={"tenant_id": tenant_id, "error": safe_errors.describe(exc)},
        )
        return _error(503, "UNAVAILABLE", "The change could not be stored; retry later.")
    return JSONResponse({"event_id": str(event.event_id), "topic": SVENN_CHANGES}, status_code=202)


def _key(event: ChangeEvent) -> bytes:
    return record_key(event.tenant_id, event.entity_type, event.entity_id)
