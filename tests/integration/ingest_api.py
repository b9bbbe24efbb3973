"""The internal ingest API as the tests call it: a producer's token in the settings, the internal
app, and the bearer header on every request (``POST /v1/changes`` refuses anything else)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import SecretStr

from services.core.settings import Settings
from services.runtime import Runtime

TOKEN = secrets.token_urlsafe(24)
BEARER = {"authorization": f"Bearer {TOKEN}"}


def with_ingest_token(settings: Settings) -> Settings:
    """``settings`` with the tests' producer token in ``INGEST_API_TOKENS``."""
    return settings.model_copy(update={"ingest_api_tokens": SecretStr(f"tests:{TOKEN}")})


@asynccontextmanager
async def ingest_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``runtime``'s internal listener (in process) that sends the producer token."""
    transport = httpx.ASGITransport(app=runtime.internal_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://internal", headers=BEARER) as client:
        yield client
