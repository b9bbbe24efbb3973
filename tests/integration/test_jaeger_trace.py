"""One change, one trace, found in a real Jaeger (v2, built from its Go module) through its query API.

The whole engine runs in-process with both simulators (``Sandbox``), on real Kafka and PostgreSQL.
Its spans go to Jaeger over OTLP/HTTP, configured the way a deployment configures it: the
standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` variable read by ``span_processors_from_env``. The
test session already has an SDK tracer provider (tests/conftest.py); the exporter is added to
it for this module only.

A user creates a project in Svenn; Svenn's signed webhook reaches the engine; the decision
(S-P4) commands a create in Tripletex; the Tripletex writer calls Tripletex over HTTP; the
outcome is projected. The test then searches Jaeger by the tenant's id and asserts that a
single trace holds every hop, parent by parent, including the HTTP calls to Tripletex.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from prometheus_client.parser import text_string_to_metric_families

from services.core.settings import Settings
from services.core.tracing import span_processors_from_env
from services.sandbox import Sandbox
from services.tripletex.writer import process_limiters

pytestmark = [pytest.mark.integration, pytest.mark.jaeger]

WAIT = 30.0
ROOT = Path(__file__).resolve().parents[2]


class _ForThisModule(SpanProcessor):
    """Forwards finished spans to ``inner`` until shut down (a provider cannot drop a processor)."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner, self.active = inner, True

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self.active:
            self.inner.on_end(span)

    def shutdown(self) -> None:
        if self.active:
            self.active = False
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


@pytest.fixture(scope="module")
def exporting(jaeger: tuple[str, str]) -> Iterator[_ForThisModule]:
    otlp_endpoint, _ = jaeger
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint)
        env.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        env.delenv("OTEL_TRACES_EXPORTER", raising=False)
        (processor,) = span_processors_from_env()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    forwarding = _ForThisModule(processor)
    provider.add_span_processor(forwarding)
    yield forwarding
    forwarding.shutdown()


@pytest.fixture(scope="module")
async def sandbox(settings: Settings, exporting: _ForThisModule) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings, tenant_prefix="traced") as running:
        yield running


def _service_name() -> str:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return str(provider.resource.attributes["service.name"])


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def _parent(span: dict[str, Any]) -> str | None:
    refs = [r["spanID"] for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
    return refs[0] if refs else None


async def _traces_of_tenant(http: httpx.AsyncClient, tenant_id: str) -> list[dict[str, Any]]:
    """Traces holding a span tagged with the tenant (Jaeger's search, the way a person would look)."""
    response = await http.get(
        "/api/traces",
        params={
            "service": _service_name(),
            "tags": json.dumps({"tsync.tenant_id": tenant_id}),
            "lookback": "1h",
            "limit": "50",
        },
    )
    if response.status_code == 404:  # no trace of the service yet
        return []
    response.raise_for_status()
    traces: list[dict[str, Any]] = response.json()["data"] or []
    return traces


def _webhook_trace(traces: list[dict[str, Any]], tenant_id: str) -> dict[str, Any] | None:
    for found in traces:
        for span in found["spans"]:
            if (
                span["operationName"] == "POST /webhooks/svenn/{tenant_id}"
                and _tags(span).get("tsync.tenant_id") == tenant_id
            ):
                return found
    return None


async def test_a_svenn_change_is_one_trace_in_jaeger_from_webhook_to_projection(
    sandbox: Sandbox, exporting: _ForThisModule, jaeger: tuple[str, str], settings: Settings
) -> None:
    t = sandbox.tenant
    started_us = time.time_ns() // 1000
    await t.svenn.projects.create({"display_id": "2024.77", "name": "Sporet", "start_date": "2026-03-02"})
    await sandbox.wait_until(lambda: t.tripletex_project("2024.77"), WAIT)

    p = settings.topic_prefix
    projection = f"{p}sync.outcomes.v1 process"
    _, query_url = jaeger
    deadline = time.monotonic() + WAIT
    async with httpx.AsyncClient(base_url=query_url, timeout=10) as http:
        while True:
            await asyncio.to_thread(exporting.force_flush)
            found = _webhook_trace(await _traces_of_tenant(http, t.tenant_id), t.tenant_id)
            if found is not None and any(s["operationName"] == projection for s in found["spans"]):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no whole trace in Jaeger for {t.tenant_id}: {found}")
            await asyncio.sleep(0.2)

    spans = found["spans"]
    assert {s["traceID"] for s in spans} == {found["traceID"]}
    by_id = {s["spanID"]: s for s in spans}
    kind = {s["spanID"]: _tags(s).get("span.kind") for s in spans}

    # From the projection's span up to the webhook: every hop's parent is the hop before it.
    (last,) = [s for s in spans if s["operationName"] == projection]
    chain = [last]
    while (parent := _parent(chain[-1])) is not None:
        chain.append(by_id[parent])
    assert [(s["operationName"], kind[s["spanID"]]) for s in reversed(chain)] == [
        ("POST /webhooks/svenn/{tenant_id}", "server"),  # webhook received
        (f"{p}svenn.changes.v1 publish", "producer"),  # ingest
        (f"{p}svenn.changes.v1 process", "consumer"),  # decision
        (f"{p}tripletex.commands.v1 publish", "producer"),  # command
        (f"{p}tripletex.commands.v1 process", "consumer"),  # writer
        (f"{p}sync.outcomes.v1 publish", "producer"),  # outcome
        (f"{p}sync.outcomes.v1 process", "consumer"),  # projection
    ]
    webhook, _, decision, _, writer, _, _ = reversed(chain)
    assert all(_tags(s).get("tsync.tenant_id") == t.tenant_id for s in chain)
    assert (_tags(decision)["tsync.rule_id"], _tags(decision)["tsync.verdict"]) == ("S-P4", "command")
    assert (_tags(writer)["tsync.operation"], _tags(writer)["tsync.outcome"]) == ("create", "applied")

    # The writer's calls to Tripletex: the client's logical call, and under it the HTTP request itself.
    def under_writer(span: dict[str, Any]) -> bool:
        while (parent := _parent(span)) is not None:
            if parent == writer["spanID"]:
                return True
            span = by_id[parent]
        return False

    http_calls = [
        s
        for s in spans
        if kind[s["spanID"]] == "client" and under_writer(s) and s["operationName"] in ("GET", "POST", "PUT")
    ]
    created = [
        s
        for s in http_calls
        if _tags(s).get("http.method", _tags(s).get("http.request.method")) == "POST"
        and str(_tags(s).get("http.url", _tags(s).get("url.full"))).endswith("/v2/project")
    ]
    assert len(created) == 1, [(s["operationName"], _tags(s)) for s in http_calls]
    (post,) = created
    assert _tags(post)["tsync.tenant_id"] == t.tenant_id
    assert _tags(post).get("http.status_code", _tags(post).get("http.response.status_code")) == 201
    assert by_id[_parent(post) or ""]["operationName"] == "tripletex POST"
    # The trace starts at the webhook (Svenn sends no trace context) and is the engine's alone.
    assert _parent(webhook) is None
    # One server span per webhook: FastAPI's own request spans are off (they would start a second trace).
    async with httpx.AsyncClient(base_url=query_url, timeout=10) as http:
        response = await http.get(
            "/api/traces",
            params={
                "service": _service_name(),
                "operation": webhook["operationName"],
                "start": str(started_us),
                "end": str(time.time_ns() // 1000),
            },
        )
    received = [
        s
        for found in response.json()["data"]
        for s in found["spans"]
        if s["operationName"] == webhook["operationName"]
    ]
    assert received and all(_tags(s).get("tsync.tenant_id") == t.tenant_id for s in received)
    services = {found["processes"][s["processID"]]["serviceName"] for s in spans}
    assert services == {_service_name()}

    # The writer fed the rate-limit gauge from Tripletex's X-Rate-Limit-* headers on its way.
    async with httpx.AsyncClient(base_url=sandbox.internal_url, timeout=10) as http:
        exposition = (await http.get("/metrics")).text
    (remaining,) = [
        s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == "tsync_rate_limit_remaining" and s.labels == {"side": "tripletex"}
    ]
    limit = process_limiters().for_tenant(t.tenant_id).state.limit
    assert limit is not None and 0 <= remaining < limit


async def test_a_process_configured_by_otel_variables_exports_to_jaeger(jaeger: tuple[str, str]) -> None:
    """What ``tsync run`` does at start (``configure_tracing``), in a process of its own."""
    otlp_endpoint, query_url = jaeger
    service = f"tsync-env-{uuid.uuid4().hex[:8]}"
    program = (
        "from opentelemetry import trace\n"
        "from services.core.tracing import configure_tracing, tracer\n"
        "configure_tracing('tripletex-sync')\n"
        "with tracer().start_as_current_span('configured by OTEL_*'):\n"
        "    pass\n"
        "trace.get_tracer_provider().shutdown()\n"  # flushes the batch processor
    )
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_SERVICE_NAME": service,
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
    }
    env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    env.pop("OTEL_TRACES_EXPORTER", None)
    done = await asyncio.create_subprocess_exec(sys.executable, "-c", program, env=env, cwd=ROOT)
    assert await done.wait() == 0
    async with httpx.AsyncClient(base_url=query_url, timeout=10) as http:
        for _ in range(50):
            response = await http.get("/api/traces", params={"service": service, "lookback": "1h"})
            if response.status_code == 200 and response.json()["data"]:
                break
            await asyncio.sleep(0.1)
    (found,) = response.json()["data"]
    (span,) = found["spans"]
    assert span["operationName"] == "configured by OTEL_*"
    process = found["processes"][span["processID"]]
    assert process["serviceName"] == service
    assert {"key": "deployment.environment", "type": "string", "value": "test"} in process["tags"]
