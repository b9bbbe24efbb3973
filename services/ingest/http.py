"""A generic push endpoint: a change event, already in the engine's contract, onto its change topic.

The per-side webhook receivers (Tripletex's ``{subscriptionId, event, id, value}``, Svenn's
signed payloads) map their payloads to ``ChangeEvent`` and publish the same way. This one is
for trusted internal producers that speak the contract directly (tools, replays, tests): it is
served on the internal listener only (``INTERNAL_HTTP_PORT``, never behind the public Ingress)
and takes a change only with a producer's bearer token from ``INGEST_API_TOKENS``. A change
names its tenant and the decision writes into that tenant's systems, so an anonymous caller
must never reach this; with no token configured, every call is refused.
"""

from __future__ import annotations

import logging

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from contracts.envelope import ChangeEvent
from contracts.topics import CHANGE_TOPICS, record_key
from services.core import tracing
from services.core.http_edge import BearerTokens
from services.core.publisher import Publisher

log = logging.getLogger(__name__)


def change_routes(publisher: Publisher, producers: BearerTokens) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/changes", status_code=202)
    async def receive_change(request: Request) -> JSONResponse:
        producer = producers.admit(request, log, "a change (POST /v1/changes)")
        if isinstance(producer, JSONResponse):
            return producer
        body = await request.body()
        parent = propagate.extract(dict(request.headers))
        with tracing.tracer().start_as_current_span(
            "POST /v1/changes", context=parent, kind=SpanKind.SERVER, attributes={"tsync.producer": producer}
        ) as span:
            try:
                event = ChangeEvent.model_validate_json(body)
            except ValidationError as exc:
                errors = [
                    {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
                ]
                log.warning(
                    "rejected a malformed change event", extra={"producer": producer, "errors": errors[:10]}
                )
                span.set_attribute("http.response.status_code", 422)
                return JSONResponse({"error": "invalid change event", "details": errors}, status_code=422)
            span.set_attribute("tsync.tenant_id", event.tenant_id)
            topic = CHANGE_TOPICS[event.source]
            try:
                await publisher.store(
                    topic, record_key(event.tenant_id, event.entity_type, event.entity_id), event
                )
            except (TimeoutError, KafkaError, ConnectionError):
                # Not stored, so not acknowledged: the producer retries (the same event id is absorbed).
                span.set_attribute("http.response.status_code", 503)
                return JSONResponse({"error": "the change could not be stored; retry later"}, status_code=503)
        return JSONResponse({"event_id": str(event.event_id), "topic": topic}, status_code=202)

    return router
