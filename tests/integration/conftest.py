"""A running engine for the test modules that drive it through the internal ingest API.

``runtime`` is every role in one process on the session's Kafka and PostgreSQL, with the tests'
producer token (one per module that asks for it; a module may define its own ``runtime``);
``client`` speaks to its internal listener (``POST /v1/changes``, ``/metrics``) with that token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.core.settings import Settings
from services.runtime import ALL_ROLES, Runtime
from tests.integration.ingest_api import ingest_client, with_ingest_token


@pytest.fixture(scope="module")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime(with_ingest_token(settings), ALL_ROLES)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture(scope="module")
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(runtime) as c:
        yield c
