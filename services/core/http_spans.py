"""A client span for every HTTP request the engine makes to Tripletex, Svenn or Drifti.

The API clients instrument their own ``httpx.AsyncClient`` (never httpx globally): the
simulators' webhook senders and test clients in the same process stay as they are. Each
request gets a CLIENT span in the current trace and a ``traceparent`` header (the only
propagation on HTTP; Kafka hops carry theirs in message headers, ``services.core.tracing``).
With no SDK installed the spans are no-ops and nothing is injected. Like the Tripletex
transport's own span, these carry the path but never the query string, headers or body.
"""

from __future__ import annotations

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor, RequestInfo
from opentelemetry.trace import Span

from services.core.tenant_context import current_tenant

_URL_ATTRIBUTES = ("url.full", "http.url")  # new and old HTTP semantic conventions


async def _describe(span: Span, request: RequestInfo) -> None:
    """Name the tenant; keep the query string out (it can hold e-mail addresses, names, numbers)."""
    if not span.is_recording():
        return
    tenant_id = current_tenant()
    if tenant_id is not None:
        span.set_attribute("tsync.tenant_id", tenant_id)
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, str(attributes[key]).partition("?")[0])


def traced(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """``client`` with a span per request (idempotent: instrumenting twice changes nothing)."""
    if not getattr(client, "_is_instrumented_by_opentelemetry", False):
        HTTPXClientInstrumentor.instrument_client(client, request_hook=_describe)
    return client
