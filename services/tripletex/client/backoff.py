"""Exponential backoff with jitter.

"Equal jitter" (half fixed, half random) rather than full jitter: after a 429 a near-zero
wait just earns another 429, while the random half still keeps many workers from retrying
in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(self, base: float, cap: float, *, rand: Callable[[], float] = random.random) -> None:
        self.base = base
        self.cap = cap
        self._rand = rand

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1 = first retry)."""
        ceiling = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        return ceiling / 2 + self._rand() * ceiling / 2
