"""A stand-in for ``asyncio.sleep`` that records waits, for testing the clients' retries.

Retry tests pass ``Sleeps()`` as a client's ``sleep`` and assert the backoff they asked for,
yet finish in milliseconds. Shared by the Svenn and Drifti test harnesses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Sleeps:
    """Stands in for ``asyncio.sleep`` in the client: records each wait instead of waiting,
    so retry tests assert the backoff they asked for and still finish in milliseconds."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)
