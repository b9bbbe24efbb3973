"""One place that sends requests to Svenn: auth, retries, backoff, rate limits, error mapping.

Retry rules:
- 5xx, timeouts and connection errors are retried with full-jitter exponential backoff
  (jitter spreads many workers' retries instead of synchronising them). Writes are retried
  only when they are safe to repeat: creates carry an ``Idempotency-Key``, PATCH/DELETE
  are idempotent or guarded by ``If-Match``.
- 429 waits for ``Retry-After`` (falling back to ``X-RateLimit-Reset``, then to backoff),
  on a budget of its own, and gives up at once when Svenn asks for a longer wait than
  ``max_retry_after`` — better to fail a message and redeliver it than to block a worker.
- Everything else (401, 404, 409, 412, 422) is permanent and raised as a typed error.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from services.svenn.client.errors import (
    FieldError,
    SvennAuthError,
    SvennConflictError,
    SvennError,
    SvennNotFoundError,
    SvennRateLimitedError,
    SvennServerError,
    SvennTransportError,
    SvennValidationError,
    SvennVersionConflictError,
)

log = logging.getLogger("services.svenn.client")

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # for 5xx / transport errors, first try included
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_rate_limit_waits: int = 5
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base·2^(attempt-1))]."""
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))


class BearerAuth(httpx.Auth):
    """Adds the tenant's key per request; the key lives only here, in a ``SecretStr``."""

    def __init__(self, api_key: str | SecretStr) -> None:
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(api_key=**********)"


def parse_retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset))
        except ValueError:
            return None
    return None


def error_from_response(response: httpx.Response, method: str, path: str) -> SvennError:
    try:
        body = response.json().get("error") or {}
        if not isinstance(body, dict):
            body = {}
    except (ValueError, AttributeError):
        body = {}
    details = [
        FieldError(str(d.get("field", "")), str(d.get("message", "")))
        for d in body.get("details") or []
        if isinstance(d, dict)
    ]
    known = {"status", "code", "message", "details", "request_id"}
    kwargs: dict[str, Any] = {
        "status": response.status_code,
        "code": body.get("code"),
        "request_id": body.get("request_id") or response.headers.get("X-Request-Id"),
        "method": method,
        "path": path,
        "details": details,
        "extra": {k: v for k, v in body.items() if k not in known},
    }
    message = str(body.get("message") or response.reason_phrase or "Svenn request failed")
    status = response.status_code
    if status in (401, 403):
        return SvennAuthError(message, **kwargs)
    if status == 404:
        return SvennNotFoundError(message, **kwargs)
    if status == 412:
        return SvennVersionConflictError(message, **kwargs)
    if status == 409:
        return SvennConflictError(message, **kwargs)
    if status in (400, 422):
        return SvennValidationError(message, **kwargs)
    if status == 429:
        return SvennRateLimitedError(message, retry_after=parse_retry_after(response), **kwargs)
    if status >= 500:
        return SvennServerError(message, **kwargs)
    return SvennError(message, **kwargs)


class Requester:
    """Sends one logical request, retrying it as the rules above allow."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: RetryPolicy,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.policy = policy
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.rate_limit_remaining: int | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_safe: bool = True,
    ) -> httpx.Response:
        failures = 0
        rate_waits = 0
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        while True:
            try:
                response = await self.http.request(
                    method, path, params=clean_params, json=json, headers=headers
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures += 1
                if not retry_safe or failures >= self.policy.max_attempts:
                    raise SvennTransportError(
                        f"No answer from Svenn: {type(exc).__name__}", method=method, path=path
                    ) from exc
                await self._wait(
                    self.policy.backoff(failures, self.rng), method, path, type(exc).__name__, failures
                )
                continue

            self._track(response)
            status = response.status_code
            if status < 400:
                return response
            if status == 429:
                rate_waits += 1
                hint = parse_retry_after(response)
                if rate_waits > self.policy.max_rate_limit_waits or (
                    hint is not None and hint > self.policy.max_retry_after
                ):
                    raise error_from_response(response, method, path)
                delay = hint if hint is not None else self.policy.backoff(rate_waits, self.rng)
                # A little jitter on top so workers sharing a tenant's budget do not return in lockstep.
                await self._wait(delay + self.rng.uniform(0, 0.1), method, path, "429", rate_waits)
                continue
            if status in RETRYABLE_STATUS and retry_safe:
                failures += 1
                if failures < self.policy.max_attempts:
                    await self._wait(
                        self.policy.backoff(failures, self.rng), method, path, str(status), failures
                    )
                    continue
            raise error_from_response(response, method, path)

    def _track(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit():
            self.rate_limit_remaining = int(remaining)

    async def _wait(self, delay: float, method: str, path: str, reason: str, attempt: int) -> None:
        log.warning("svenn %s %s failed (%s); retry %d in %.2fs", method, path, reason, attempt, delay)
        await self.sleep(delay)
