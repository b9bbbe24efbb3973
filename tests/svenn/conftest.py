"""Fixtures for Svenn tests: a fresh in-process simulator per test, a tenant and a client.

The wiring lives in ``services.svenn.simulator.testing`` so the engine's Svenn tests can
reuse it; this file only turns it into fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.svenn.client import SvennClient
from services.svenn.simulator.testing import Sim, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    async with running_sim() as harness:
        yield harness


@pytest.fixture
async def tenant(sim: Sim) -> tuple[str, str]:
    return await sim.tenant()


@pytest.fixture
async def client(sim: Sim, tenant: tuple[str, str]) -> AsyncIterator[SvennClient]:
    async with sim.client(tenant[1]) as c:
        yield c
