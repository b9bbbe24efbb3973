"""One authenticated, rate-limited, retrying HTTP call to Tripletex.

What is retried here, and why it is safe:

* 401: the session died (expiry, revocation). Re-mint once, send once more.
* 429: Tripletex rejected the request before doing anything, so any method may be re-sent.
  Wait for ``X-Rate-Limit-Reset`` if present, else back off exponentially, and make the whole
  tenant wait (the limit is per tenant).
* Connection not established (connect error/timeout, pool timeout): nothing was sent.
* 5xx, read timeouts, dropped connections: only for *idempotent* requests (reads, PUTs of
  absolute values). For a create or an action such as ``/:payment`` the outcome is unknown,
  so we raise :class:`TripletexOutcomeUnknown` and let the caller look before it writes again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from opentelemetry import trace

from .backoff import Backoff
from .config import RetryPolicy
from .errors import (
    REQUEST_ID_HEADER,
    Redactor,
    TripletexAuthError,
    TripletexError,
    TripletexOutcomeUnknown,
    TripletexRateLimited,
    TripletexServerError,
    TripletexUnavailable,
    parse_error,
)
from .rate_limit import TenantLimiter
from .session import SessionManager

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("services.tripletex.client")

Sleep = Callable[[float], Awaitable[None]]

# The request never left this machine: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Params = Mapping[str, str | int | float | bool | None]


def _clean_params(params: Params | None) -> dict[str, str]:
    """Drop ``None`` and spell booleans the way Tripletex expects (``true``/``false``)."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


class Transport:
    """Sends requests for one tenant; shared by all the per-entity APIs of a client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        tenant_id: str,
        company_id: str,
        sessions: SessionManager,
        limiter: TenantLimiter,
        retry: RetryPolicy,
        redactor: Redactor,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self.tenant_id = tenant_id
        self._company_id = company_id
        self.sessions = sessions
        self.limiter = limiter
        self.retry = retry
        self.redact = redactor
        self._sleep = sleep
        kw: dict[str, Any] = {"rand": rand} if rand is not None else {}
        self._rate_backoff = Backoff(retry.rate_limit_base_seconds, retry.rate_limit_cap_seconds, **kw)
        self._server_backoff = Backoff(retry.server_error_base_seconds, retry.server_error_cap_seconds, **kw)
        self.sent_requests = 0

    def __repr__(self) -> str:
        return f"Transport(tenant={self.tenant_id!r}, base={self._base!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send and return a 2xx/304 response, or raise a typed :class:`TripletexError`.

        ``idempotent`` defaults to ``True`` for GET/PUT/DELETE and ``False`` for POST; pass
        ``False`` for PUT actions that add something (``/:payment``, ``/:reverse``).
        """
        if idempotent is None:
            idempotent = method.upper() != "POST"
        # One span per logical call (retries included). Attributes carry the path but never
        # the query string, headers or body: tokens stay out of traces too.
        with _tracer.start_as_current_span(f"tripletex {method}", kind=trace.SpanKind.CLIENT) as span:
            span.set_attribute("tripletex.tenant_id", self.tenant_id)
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", path)
            try:
                response = await self._send(method, path, params, json, files, idempotent, span)
            except TripletexError as exc:
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                if exc.status is not None:
                    span.set_attribute("http.response.status_code", exc.status)
                if exc.code is not None:
                    span.set_attribute("tripletex.error_code", exc.code)
                if exc.request_id:
                    span.set_attribute("tripletex.request_id", exc.request_id)
                raise
            span.set_attribute("http.response.status_code", response.status_code)
            request_id = response.headers.get(REQUEST_ID_HEADER)
            if request_id:
                span.set_attribute("tripletex.request_id", request_id)
            return response

    async def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        files: Mapping[str, tuple[str, bytes, str]] | None,
        idempotent: bool,
        span: trace.Span,
    ) -> httpx.Response:
        url = self._base + path
        query = _clean_params(params)
        reauthed = False
        server_attempt = 0
        rate_attempt = 0
        attempts = 0
        while True:
            attempts += 1
            span.set_attribute("tripletex.attempts", attempts)
            session = await self.sessions.current()
            headers = {"Authorization": session.basic_auth(self._company_id), "Accept": "application/json"}
            started = time.perf_counter()
            response: httpx.Response | None = None
            failure: str | None = None
            fatal: TripletexError | None = None
            async with self.limiter.slot():
                try:
                    self.sent_requests += 1
                    response = await self._http.request(
                        method, url, params=query, json=json, files=files, headers=headers
                    )
                except _NOT_SENT as exc:
                    server_attempt += 1
                    failure = type(exc).__name__
                    if server_attempt >= self.retry.max_attempts:
                        fatal = TripletexUnavailable(
                            f"could not connect: {failure}", method=method, path=path
                        )
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    failure = type(exc).__name__
                    if not idempotent:
                        fatal = TripletexOutcomeUnknown(
                            f"no answer to a non-idempotent write: {failure}", method=method, path=path
                        )
                    else:
                        server_attempt += 1
                        if server_attempt >= self.retry.max_attempts:
                            fatal = TripletexServerError(
                                f"no answer after {server_attempt} attempts: {failure}",
                                method=method,
                                path=path,
                            )
                if response is not None:
                    self.limiter.observe(response.headers)
            if fatal is not None:
                # Raised outside the ``except`` so the httpx exception, whose request holds the
                # Authorization header, is not even chained as ``__context__``.
                raise fatal
            if response is None:
                log.warning(
                    "tripletex transport failure, retrying",
                    extra={"tenant_id": self.tenant_id, "method": method, "path": path, "error": failure},
                )
                await self._sleep(self._server_backoff.delay(server_attempt))
                continue

            status = response.status_code
            log.debug(
                "tripletex %s %s -> %s",
                method,
                path,
                status,
                extra={
                    "tenant_id": self.tenant_id,
                    "status": status,
                    "request_id": response.headers.get(REQUEST_ID_HEADER),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            if status < 300 or status == 304:
                return response
            if status == 401:
                if reauthed:
                    raise self._error(response, method, path, TripletexAuthError)
                reauthed = True
                log.info("tripletex 401: re-minting session once", extra={"tenant_id": self.tenant_id})
                await self.sessions.invalidate(session)
                continue
            if status == 429:
                rate_attempt += 1
                if rate_attempt >= self.retry.rate_limit_max_attempts:
                    raise self._error(response, method, path, TripletexRateLimited)
                hint = self.limiter.reset_hint(response.headers)
                delay = hint if hint is not None else self._rate_backoff.delay(rate_attempt)
                log.warning(
                    "tripletex 429: pausing tenant",
                    extra={"tenant_id": self.tenant_id, "wait_seconds": round(delay, 3)},
                )
                self.limiter.pause(delay)
                continue
            if status >= 500:
                if not idempotent:
                    error = self._error(response, method, path, TripletexServerError)
                    raise TripletexOutcomeUnknown(
                        f"server error on a non-idempotent write: {error.message}",
                        status=error.status,
                        code=error.code,
                        request_id=error.request_id,
                        method=method,
                        path=path,
                    )
                server_attempt += 1
                if server_attempt >= self.retry.max_attempts:
                    raise self._error(response, method, path, TripletexServerError)
                await self._sleep(self._server_backoff.delay(server_attempt))
                continue
            raise self._error(response, method, path, None)

    def _error(
        self, response: httpx.Response, method: str, path: str, expected: type[TripletexError] | None
    ) -> TripletexError:
        error = parse_error(response, redact=self.redact, method=method, path=path)
        log.info(
            "tripletex error",
            extra={
                "tenant_id": self.tenant_id,
                "status": error.status,
                "code": error.code,
                "request_id": error.request_id,
                "path": path,
            },
        )
        if expected is not None and not isinstance(error, expected):
            return expected(
                error.message,
                status=error.status,
                code=error.code,
                request_id=error.request_id,
                method=method,
                path=path,
            )
        return error
