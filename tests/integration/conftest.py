"""A running engine for the test modules that drive it through the internal ingest API.

``runtime`` is every role in one process on the session's Kafka and PostgreSQL, with the tests'
producer token (one per module that asks for it; a module may define its own ``runtime``);
``client`` speaks to its internal listener (``POST /v1/changes``, ``/metrics``) with that token.
``scratch_database`` is an empty database of its own on the session's server, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
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


@pytest.fixture
async def scratch_database(database_url: str) -> AsyncIterator[str]:
    """An empty database of its own on the local server (a migration starts from nothing), dropped after."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = database_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
