"""How often and how long an API client retries: attempts, full-jitter backoff, 429 patience.

Shared by the Svenn and Drifti clients so both back off the same way (jitter spreads many
workers' retries instead of synchronising them).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
