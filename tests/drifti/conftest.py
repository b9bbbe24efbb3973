"""Fixtures for Drifti tests: a fresh in-process simulator per test, a tenant and a client.

The wiring lives in ``services.drifti.simulator.testing`` so the engine's Drifti flows can
reuse it; this file only turns it into fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.drifti.client import DriftiClient
from services.drifti.simulator.testing import Sim, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with running_sim() as harness:
        yield harness


@pytest.fixture
async def tenant(sim: Sim) -> tuple[str, str]:
    return await sim.tenant()


@pytest.fixture
async def client(sim: Sim, tenant: tuple[str, str]) -> AsyncIterator[DriftiClient]:
    async with sim.client(tenant[1]) as c:
        yield c


@pytest.fixture
async def http(sim: Sim, tenant: tuple[str, str]) -> AsyncIterator[tuple[Sim, dict[str, str]]]:
    """Raw HTTP against the API: the admin client plus the tenant's auth header."""
    yield sim, {"Authorization": f"Bearer {tenant[1]}"}
