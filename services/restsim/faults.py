"""Per-tenant misbehaviour on demand: rate limits, latency and server errors.

Shared by the Svenn and Drifti simulators. A client is only as good as the failures it has
met. Tests switch these on through ``/_sim/tenants/{tenant}/faults`` and prove the client
absorbs them; ``fail_next`` gives a deterministic count of failures where a random
``error_rate`` would make tests flaky.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class RateLimitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1, description="Requests allowed per period, per tenant")
    period_seconds: float = Field(gt=0, le=3600)


class FaultConfig(BaseModel):
    """What an operator (or a test) asked the tenant's API to do wrong."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of requests answered with a 5xx"
    )
    error_status: int = Field(default=503, ge=500, le=599)
    fail_next: int = Field(default=0, ge=0, description="The next N API requests fail with error_status")
    # When true the request is processed and *then* answered with the error: the case
    # where a create succeeded but the client never heard. Only an Idempotency-Key saves it.
    error_after_commit: bool = False
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    rate_limit: RateLimitConfig | None = None
    seed: int | None = None


# Generous enough never to bother a normal test, low enough to be a real limit.
DEFAULT_RATE_LIMIT = RateLimitConfig(limit=600, period_seconds=60)


@dataclass
class RateWindow:
    """A fixed window counter: the whole budget resets when the period ends."""

    config: RateLimitConfig
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-math.inf)
    used: int = 0

    def _roll(self) -> None:
        now = self.clock()
        if now - self.started >= self.config.period_seconds:
            self.started = now
            self.used = 0

    def try_acquire(self) -> bool:
        self._roll()
        if self.used >= self.config.limit:
            return False
        self.used += 1
        return True

    @property
    def remaining(self) -> int:
        return max(0, self.config.limit - self.used)

    @property
    def reset_in(self) -> float:
        return max(0.0, self.started + self.config.period_seconds - self.clock())

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.config.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{self.reset_in:.3f}",
        }

    def retry_after(self) -> str:
        # HTTP wants whole seconds; never say 0, or a client would hammer us.
        return str(max(1, math.ceil(self.reset_in)))


class TenantFaults:
    """The live fault state of one tenant: its config, its RNG and its rate window."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self.remaining_failures = config.fail_next
        self.rng = random.Random(config.seed)
        self.window = RateWindow(config.rate_limit or DEFAULT_RATE_LIMIT)

    def should_fail(self) -> bool:
        if self.remaining_failures > 0:
            self.remaining_failures -= 1
            return True
        return self.config.error_rate > 0 and self.rng.random() < self.config.error_rate

    def snapshot(self) -> dict[str, object]:
        return {
            **self.config.model_dump(),
            "fail_next_remaining": self.remaining_failures,
            "rate_limit_effective": self.window.config.model_dump(),
        }
