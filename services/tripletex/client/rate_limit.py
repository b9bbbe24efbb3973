"""Per-tenant rate limiting driven by Tripletex's ``X-Rate-Limit-*`` headers.

Tripletex limits each (consumer, employee token) pair, i.e. each tenant, and once the budget
is spent *every* request gets 429 until the period ends, and that 429 may not say when the
period ends (tripletex-api2#103). So the cheap thing is not to get there: every response's
headers update the tenant's :class:`RateLimitState`, and a request waits for the reset when
only the reserve is left.

Near the end of the budget requests are paced (spread over the rest of the period) rather
than sent in a burst and then stopped.

Fairness: each tenant has its own :class:`TenantLimiter` (own semaphore, own pause), kept in a
:class:`LimiterRegistry`. A tenant that is throttled or has a deep backlog waits in its own
line; it never holds a slot another tenant needs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from .config import LimiterPolicy

log = logging.getLogger(__name__)

LIMIT_HEADER = "x-rate-limit-limit"
REMAINING_HEADER = "x-rate-limit-remaining"
RESET_HEADER = "x-rate-limit-reset"

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    """Header names are case-insensitive; accept a plain dict as well as ``httpx.Headers``."""
    if not isinstance(headers, httpx.Headers):
        headers = httpx.Headers(headers)
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


@dataclass
class RateLimitState:
    """The last thing Tripletex told us about this tenant's budget."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # monotonic time when the period ends
    paused_until: float = 0.0  # set by a 429: nobody for this tenant sends before this
    last_scheduled: float = 0.0  # when the last paced request was due


class TenantLimiter:
    """Concurrency cap + pacing for one tenant."""

    def __init__(
        self,
        tenant_id: str,
        policy: LimiterPolicy,
        *,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.tenant_id = tenant_id
        self._policy = policy
        self._sleep = sleep
        self._monotonic = monotonic
        self._semaphore = asyncio.Semaphore(policy.max_concurrency_per_tenant)
        self.state = RateLimitState()
        self.throttle_waits = 0
        self.paced_waits = 0

    def __repr__(self) -> str:
        return f"TenantLimiter(tenant={self.tenant_id!r}, state={self.state})"

    def _reserve(self) -> int:
        limit = self.state.limit or 0
        return max(1, math.ceil(limit * self._policy.reserve_fraction))

    def _wait_needed(self) -> tuple[float, str, float]:
        """(seconds to wait, why, the deadline waited for)."""
        now = self._monotonic()
        state = self.state
        if state.paused_until > now:
            return state.paused_until - now, "pause", state.paused_until
        if state.remaining is not None and state.remaining <= self._reserve():
            if state.reset_at is None:
                return 0.0, "", 0.0  # no reset known: let it through; a 429 will back off
            if state.reset_at > now:
                return state.reset_at - now, "reset", state.reset_at
            # The period is over; forget the stale count.
            state.remaining = None
        return 0.0, "", 0.0

    def _pace(self) -> float:
        """Spread the last part of the budget evenly over what is left of the period.

        Without it a burst spends the budget at once and then stands still until the reset;
        with it, requests keep trickling out, which keeps latency even for every caller.
        """
        state = self.state
        now = self._monotonic()
        if (
            state.limit is None
            or state.remaining is None
            or state.reset_at is None
            or state.reset_at <= now
            or state.remaining > state.limit * self._policy.pace_below_fraction
        ):
            return 0.0
        spacing = (state.reset_at - now) / max(state.remaining - self._reserve(), 1)
        scheduled = max(now, state.last_scheduled + spacing)
        state.last_scheduled = scheduled
        return scheduled - now

    def _elapsed(self, why: str, deadline: float) -> None:
        """We slept until ``deadline``; clear it unless a newer response moved it."""
        if why == "pause" and self.state.paused_until == deadline:
            self.state.paused_until = 0.0
        elif why == "reset" and self.state.reset_at == deadline:
            self.state.remaining = None
            self.state.reset_at = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the tenant's concurrent slots, after any pause the budget needs."""
        async with self._semaphore:
            while True:
                wait, why, deadline = self._wait_needed()
                if wait <= 0:
                    break
                self.throttle_waits += 1
                log.info(
                    "tripletex throttle: waiting",
                    extra={"tenant_id": self.tenant_id, "reason": why, "wait_seconds": round(wait, 3)},
                )
                await self._sleep(min(wait, self._policy.max_pause_seconds))
                self._elapsed(why, deadline)
            if (pace := self._pace()) > 0:
                self.paced_waits += 1
                await self._sleep(min(pace, self._policy.max_pause_seconds))
            if self.state.remaining is not None:
                # Count the request now so concurrent callers see the budget shrink.
                self.state.remaining -= 1
            yield

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record the ``X-Rate-Limit-*`` headers of any response (including errors)."""
        limit = _int_header(headers, LIMIT_HEADER)
        remaining = _int_header(headers, REMAINING_HEADER)
        reset = _int_header(headers, RESET_HEADER)
        if limit is not None:
            self.state.limit = limit
        if remaining is not None:
            self.state.remaining = remaining
        if reset is not None:
            self.state.reset_at = self._monotonic() + max(reset, 0)

    def pause(self, seconds: float) -> None:
        """Make every request of this tenant wait ``seconds`` (after a 429)."""
        until = self._monotonic() + min(seconds, self._policy.max_pause_seconds)
        self.state.paused_until = max(self.state.paused_until, until)

    def reset_hint(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until reset if the response said so (a 429 often does not)."""
        reset = _int_header(headers, RESET_HEADER)
        return float(reset) if reset is not None and reset >= 0 else None


class LimiterRegistry:
    """One :class:`TenantLimiter` per tenant; share one registry across all tenants' clients."""

    def __init__(
        self,
        policy: LimiterPolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._policy = policy or LimiterPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._limiters: dict[str, TenantLimiter] = {}

    def for_tenant(self, tenant_id: str) -> TenantLimiter:
        limiter = self._limiters.get(tenant_id)
        if limiter is None:
            limiter = TenantLimiter(tenant_id, self._policy, sleep=self._sleep, monotonic=self._monotonic)
            self._limiters[tenant_id] = limiter
        return limiter
