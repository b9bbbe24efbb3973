"""Tracing set-up from the standard OTEL_* variables, HTTP client spans, and logs naming tenant and trace."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.core.http_spans import traced
from services.core.logs import JsonFormatter
from services.core.tenant_context import current_tenant, tenant_scope
from services.core.tracing import consume_span, span_processors_from_env, tracing_resource

_OTEL_VARS = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)


@pytest.fixture(autouse=True)
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OTEL_VARS:
        monkeypatch.delenv(name, raising=False)


def _exporters(processors: Sequence[object]) -> list[object]:
    exporters: list[object] = []
    for processor in processors:
        assert isinstance(processor, BatchSpanProcessor)
        exporters.append(processor._batch_processor._exporter)
        processor.shutdown()
    return exporters


def test_no_exporter_without_an_endpoint() -> None:
    assert span_processors_from_env() == []


def test_otlp_endpoint_switches_on_the_otlp_http_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:14318")
    (exporter,) = _exporters(span_processors_from_env())
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://127.0.0.1:14318/v1/traces"


def test_the_traces_endpoint_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom/traces")
    (exporter,) = _exporters(span_processors_from_env())
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector:4318/custom/traces"


def test_console_and_otlp_together_and_none_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:14318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp,console")
    kinds = [type(e) for e in _exporters(span_processors_from_env())]
    assert kinds == [OTLPSpanExporter, ConsoleSpanExporter]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert span_processors_from_env() == []


def test_service_name_defaults_to_the_setting_and_yields_to_otel_service_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=dev")
    resource = tracing_resource("tripletex-sync")
    assert resource.attributes["service.name"] == "tripletex-sync"
    assert resource.attributes["deployment.environment"] == "dev"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "tsync-decision")
    assert tracing_resource("tripletex-sync").attributes["service.name"] == "tsync-decision"


async def test_http_call_is_a_client_span_in_the_current_trace_without_the_query(
    spans: InMemorySpanExporter,
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = traced(httpx.AsyncClient(transport=httpx.MockTransport(answer)))
    assert traced(client) is client  # a second call does not wrap twice
    tracer = trace.get_tracer("test")
    with tenant_scope("t-http"), tracer.start_as_current_span("writer") as parent:
        await client.get("http://svenn.test/api/v1/customers", params={"email": "ola@example.no"})
    await client.aclose()

    trace_id = parent.get_span_context().trace_id
    (http_span,) = [
        s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT and s.context.trace_id == trace_id
    ]
    assert http_span.parent is not None and http_span.parent.span_id == parent.get_span_context().span_id
    attributes = dict(http_span.attributes or {})
    assert attributes["tsync.tenant_id"] == "t-http"
    urls = [str(v) for k, v in attributes.items() if k in ("url.full", "http.url")]
    assert urls == ["http://svenn.test/api/v1/customers"]
    # One traceparent, the HTTP span's own: the callee continues the same trace.
    (request,) = seen
    (traceparent,) = request.headers.get_list("traceparent")
    assert traceparent.startswith(f"00-{trace_id:032x}-{http_span.context.span_id:016x}-")


def test_json_logs_carry_the_tenant_and_trace_of_the_message_in_hand() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("tsync", logging.INFO, __file__, 1, "wrote", None, None)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT))
    with consume_span("svenn.changes.v1", "sync-decision", parent, {"tsync.tenant_id": "t-log"}) as span:
        entry = json.loads(formatter.format(record))
        assert current_tenant() == "t-log"
    assert current_tenant() is None
    assert entry["tenant_id"] == "t-log"
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    explicit = logging.LogRecord("tsync", logging.INFO, __file__, 1, "x", None, None)
    explicit.tenant_id = "t-explicit"
    with tenant_scope("t-log"):
        assert json.loads(formatter.format(explicit))["tenant_id"] == "t-explicit"
