"""Waiting for a state only visible by looking (a simulator's table, a job list, a database row)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], bool | Awaitable[bool]], within: float = 20.0) -> None:
    """Look again every 50 ms until ``condition`` holds (sync or async); fail after ``within`` s."""
    for _ in range(int(within / 0.05)):
        holds = condition()
        if holds if isinstance(holds, bool) else await holds:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {within} s")
