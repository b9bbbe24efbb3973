"""Trace context across Kafka hops, by hand, one span per message.

FastStream's telemetry middleware gives a *batch* a fresh span that only links to its
messages, which would cut a change's trace in two at every batch consumer. Here each message
gets a consumer span whose parent is the ``traceparent`` in its headers, and every publish
injects the current span's context, so one change is one trace from webhook to projection.
This is the project's only propagation mechanism on Kafka (no second middleware adding headers);
on HTTP it is the instrumented clients' (``services.core.http_spans``).

Where spans go is the standard ``OTEL_*`` environment's business (``configure_tracing``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from contracts.envelope import TraceContext
from services.core.tenant_context import tenant_scope

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor

TRACER_NAME = "tripletex_sync"


# A proxy until a provider is installed, then the provider's tracer: safe to take once, at import.
_TRACER = trace.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    return _TRACER


def configure_tracing(service_name: str) -> None:
    """Install an SDK tracer provider unless one is already set (tests install their own).

    Exporters follow the standard ``OTEL_*`` variables (``span_processors_from_env``); the
    sampler follows ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` (the SDK reads them) and
    the resource ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``, ``service_name`` being the
    default name. ``OTEL_SDK_DISABLED=true`` leaves tracing off (the no-op fast path).
    """
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider) is False:
        return
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=tracing_resource(service_name))
    for processor in span_processors_from_env():
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)


def tracing_resource(service_name: str) -> Resource:
    """The process's resource: the ``OTEL_*`` environment's, named ``service_name`` unless it names one."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    return resource


def span_processors_from_env() -> list[SpanProcessor]:
    """Where spans go, from the standard variables.

    - OTLP over HTTP/protobuf when ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
      ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the exporter itself reads them and the other
      ``OTEL_EXPORTER_OTLP_*`` variables: headers, timeout, compression, certificates);
    - the console when ``OTEL_TRACES_EXPORTER`` includes ``console``;
    - nowhere otherwise, or when ``OTEL_TRACES_EXPORTER=none``.

    Only the endpoint switches OTLP on, so a process without a collector never spends time
    on failing exports to the SDK's default ``localhost:4318``.
    """
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    env = os.environ
    wanted = {name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()}
    if "none" in wanted:
        return []
    processors: list[SpanProcessor] = []
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if "console" in wanted:
        processors.append(BatchSpanProcessor(ConsoleSpanExporter()))
    return processors


def _header_carrier(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        if key in ("traceparent", "tracestate") and value is not None:
            carrier[key] = value.decode("latin-1")
    return carrier


def context_from(headers: Sequence[tuple[str, bytes]] | None, body_trace: TraceContext | None) -> Context:
    """Parent context of a message: its Kafka headers, else the copy carried in its body."""
    carrier = _header_carrier(headers)
    if not carrier and body_trace is not None:
        carrier = {"traceparent": body_trace.traceparent}
        if body_trace.tracestate:
            carrier["tracestate"] = body_trace.tracestate
    return propagate.extract(carrier)


def current_trace_context() -> TraceContext | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if "traceparent" not in carrier:
        return None
    return TraceContext(traceparent=carrier["traceparent"], tracestate=carrier.get("tracestate"))


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    propagate.inject(headers)
    return headers


def _recording() -> bool:
    """Whether spans are recorded at all: without an SDK provider every span is a no-op.

    Then the hot path skips making spans but still carries the incoming trace context along,
    so a downstream service that does record keeps the one trace per change.
    """
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@contextmanager
def consume_span(
    topic: str, consumer: str, parent: Context, attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    tenant_id = (attributes or {}).get("tsync.tenant_id")
    if not _recording():
        token = context.attach(parent)
        try:
            with tenant_scope(tenant_id):
                yield trace.get_current_span()
        finally:
            context.detach(token)
        return
    with (
        tenant_scope(tenant_id),
        tracer().start_as_current_span(
            f"{topic} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": consumer,
                **(attributes or {}),
            },
        ) as span,
    ):
        yield span


@contextmanager
def webhook_span(route: str, tenant_id: str, request_headers: Mapping[str, str]) -> Iterator[Span]:
    """The server span of one webhook delivery to a tenant's route.

    A child of the sender's trace when it sent one; the tenant is on the span and on every log
    line written inside (the same for every side's webhooks).
    """
    parent = propagate.extract(dict(request_headers))
    with (
        tenant_scope(tenant_id),
        tracer().start_as_current_span(
            f"POST {route}", context=parent, kind=SpanKind.SERVER, attributes={"tsync.tenant_id": tenant_id}
        ) as span,
    ):
        yield span


@contextmanager
def produce_span(topic: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
    if not _recording():
        yield trace.get_current_span()
        return
    with tracer().start_as_current_span(
        f"{topic} publish",
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic, **(attributes or {})},
    ) as span:
        yield span
