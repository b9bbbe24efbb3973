"""Per-company fault injection and the rate limiter.

Rate limiting follows REFERENCE §3: one budget per employee token x consumer token,
`X-Rate-Limit-Limit/Remaining/Reset` on every response, and once the budget is spent every
request is 429 until the period ends, the 429 itself without `X-Rate-Limit-Reset`
(Tripletex/tripletex-api2#103). Tripletex publishes no numbers; the defaults below are
assumptions chosen so that ordinary test runs never hit the limit unless a test asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DEFAULT_RATE_LIMIT = 10_000
DEFAULT_RATE_PERIOD_SECONDS = 60.0


@dataclass
class FaultConfig:
    """What an operator or a test has asked one company's API to do wrong."""

    error_rate: float = 0.0
    """Share of authenticated requests (0..1) answered with ``error_status`` code 1000 before they run."""
    error_status: int = 500
    """The 5xx those requests get (503: Tripletex down for maintenance or overloaded)."""
    latency_ms: float = 0.0
    """Delay added before every authenticated request is handled."""
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_period_seconds: float = DEFAULT_RATE_PERIOD_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {
            "errorRate": self.error_rate,
            "errorStatus": self.error_status,
            "latencyMs": self.latency_ms,
            "rateLimit": self.rate_limit,
            "ratePeriodSeconds": self.rate_period_seconds,
        }

    def update(self, patch: dict[str, Any]) -> None:
        """Apply a partial JSON patch from `/_sim/companies/{id}/faults`."""
        if "errorRate" in patch:
            self.error_rate = min(1.0, max(0.0, float(patch["errorRate"])))
        if "errorStatus" in patch:
            self.error_status = min(599, max(500, int(patch["errorStatus"])))
        if "latencyMs" in patch:
            self.latency_ms = max(0.0, float(patch["latencyMs"]))
        if "rateLimit" in patch:
            self.rate_limit = max(0, int(patch["rateLimit"]))
        if "ratePeriodSeconds" in patch:
            self.rate_period_seconds = max(0.001, float(patch["ratePeriodSeconds"]))


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        headers = {"X-Rate-Limit-Limit": str(self.limit), "X-Rate-Limit-Remaining": str(self.remaining)}
        if self.allowed:
            headers["X-Rate-Limit-Reset"] = str(self.reset_seconds)
        return headers


@dataclass
class _Bucket:
    period_start: float
    used: int = 0


@dataclass
class RateLimiter:
    """Fixed-window counters keyed by (consumer token, employee token)."""

    buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def take(self, key: tuple[str, str], limit: int, period: float, now: float) -> RateDecision:
        bucket = self.buckets.get(key)
        if bucket is None or now - bucket.period_start >= period:
            bucket = self.buckets[key] = _Bucket(period_start=now)
        reset = max(0, math.ceil(bucket.period_start + period - now))
        if bucket.used >= limit:
            return RateDecision(False, limit, 0, reset)
        bucket.used += 1
        return RateDecision(True, limit, limit - bucket.used, reset)

    def reset(self) -> None:
        self.buckets.clear()
