"""The internal ingest API as the tests call it: a producer's token in the settings, the internal
app, and the bearer header on every request (``POST /v1/changes`` refuses anything else)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr

from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.ids import change_event_id
from services.core.settings import Settings
from services.runtime import Runtime

TOKEN = secrets.token_urlsafe(24)
BEARER = {"authorization": f"Bearer {TOKEN}"}


def with_ingest_token(settings: Settings) -> Settings:
    """``settings`` with the tests' producer token in ``INGEST_API_TOKENS``."""
    return settings.model_copy(update={"ingest_api_tokens": SecretStr(f"tests:{TOKEN}")})


def customer_deleted(tenant_id: str, entity_id: str, version: str = "1") -> ChangeEvent:
    """The smallest change a producer can send: a Svenn customer's deletion (no snapshot)."""
    return ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        event_id=change_event_id(tenant_id, "svenn", "customer", entity_id, version),
        source=SourceSystem.SVENN,
        entity_type=EntityType.CUSTOMER,
        entity_id=entity_id,
        change_kind=ChangeKind.DELETED,
        occurred_at=datetime.now(UTC),
        source_version=version,
    )


@asynccontextmanager
async def ingest_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``runtime``'s internal listener (in process) that sends the producer token."""
    transport = httpx.ASGITransport(app=runtime.internal_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://internal", headers=BEARER) as client:
        yield client
