"""The request/retry loop of the Svenn and Drifti clients: one logical request, retried.

Retry rules:
- 5xx, timeouts and connection errors are retried with full-jitter exponential backoff.
  Writes are retried only when the caller says they are safe to repeat (creates carry an
  ``Idempotency-Key``; PATCH/DELETE are idempotent or guarded by ``If-Match``).
- 429 waits for ``Retry-After`` (falling back to ``X-RateLimit-Reset``, then to backoff), on a
  budget of its own, and gives up at once when the API asks for a longer wait than
  ``max_retry_after`` — better to fail a message and redeliver it than to block a worker.
- Everything else is permanent and raised as the product's typed error.

What differs per product (its name, its error types) comes in through ``ApiDialect``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from services.restclient.retry_after import parse_retry_after
from services.restclient.retry_policy import RETRYABLE_STATUS, RetryPolicy, Sleep


@dataclass(frozen=True)
class ApiDialect:
    """One product's name, logger and error mapping."""

    name: str  # "Svenn": in "No answer from Svenn" and (lower-cased) in retry log lines
    log: logging.Logger
    # (response, method, path) -> the typed error to raise for a failed response
    error_from_response: Callable[[httpx.Response, str, str], Exception]
    # (message, method=, path=) -> the typed error when no answer came at all
    transport_error: Callable[..., Exception]


class Requester:
    """Sends one logical request, retrying it as the rules above allow."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: RetryPolicy,
        dialect: ApiDialect,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.policy = policy
        self.dialect = dialect
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
        errors = self.dialect
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
                    raise errors.transport_error(
                        f"No answer from {errors.name}: {type(exc).__name__}", method=method, path=path
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
                    raise errors.error_from_response(response, method, path)
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
            raise errors.error_from_response(response, method, path)

    def _track(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit():
            self.rate_limit_remaining = int(remaining)

    async def _wait(self, delay: float, method: str, path: str, reason: str, attempt: int) -> None:
        self.dialect.log.warning(
            f"{self.dialect.name.lower()} %s %s failed (%s); retry %d in %.2fs",
            method,
            path,
            reason,
            attempt,
            delay,
        )
        await self.sleep(delay)
