"""One place that sends requests to Drifti: auth, retries, backoff, rate limits, error mapping.

The policy is the one the Svenn client follows, and its generic parts (``RetryPolicy``,
``BearerAuth``, ``parse_retry_after``) are reused rather than copied:
- 5xx, timeouts and connection errors are retried with full-jitter exponential backoff.
  Writes are retried only when safe to repeat: creates carry an ``Idempotency-Key``,
  PATCH is idempotent.
- 429 waits for ``Retry-After`` on a budget of its own, and gives up at once when Drifti
  asks for a longer wait than ``max_retry_after`` — better to fail a message and redeliver
  it later than to block a worker.
- Everything else (401, 404, 409, 422) is permanent and raised as a typed error.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any

import httpx

from services.drifti.client.errors import (
    DriftiAuthError,
    DriftiConflictError,
    DriftiError,
    DriftiNotFoundError,
    DriftiRateLimitedError,
    DriftiServerError,
    DriftiTransportError,
    DriftiValidationError,
    FieldError,
)
from services.svenn.client.http import RETRYABLE_STATUS, BearerAuth, RetryPolicy, Sleep, parse_retry_after

log = logging.getLogger("services.drifti.client")

__all__ = ["BearerAuth", "Requester", "RetryPolicy", "Sleep", "error_from_response"]


def error_from_response(response: httpx.Response, method: str, path: str) -> DriftiError:
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
    message = str(body.get("message") or response.reason_phrase or "Drifti request failed")
    status = response.status_code
    if status in (401, 403):
        return DriftiAuthError(message, **kwargs)
    if status == 404:
        return DriftiNotFoundError(message, **kwargs)
    if status == 409:
        return DriftiConflictError(message, **kwargs)
    if status in (400, 422):
        return DriftiValidationError(message, **kwargs)
    if status == 429:
        return DriftiRateLimitedError(message, retry_after=parse_retry_after(response), **kwargs)
    if status >= 500:
        return DriftiServerError(message, **kwargs)
    return DriftiError(message, **kwargs)


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
                    raise DriftiTransportError(
                        f"No answer from Drifti: {type(exc).__name__}", method=method, path=path
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
                # A little jitter so workers sharing a tenant's budget do not return in lockstep.
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
        log.warning("drifti %s %s failed (%s); retry %d in %.2fs", method, path, reason, attempt, delay)
        await self.sleep(delay)
