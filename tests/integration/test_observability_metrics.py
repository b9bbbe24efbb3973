"""What ``/metrics`` (internal listener) and ``/readyz`` (public) report on a running engine
(real Kafka and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.entities import ProjectSnapshot
from contracts.envelope import ChangeEvent, ChangeKind, EntityType, SourceSystem
from contracts.error_codes import CATALOG, TENANT_NOT_CONNECTED
from contracts.ids import change_event_id
from services.core.settings import Settings
from services.runtime import ALL_ROLES, Runtime

pytestmark = pytest.mark.integration

OPEN_BY_CODE = "SELECT error_code, count(*) AS n FROM error_log WHERE resolved_at IS NULL GROUP BY error_code"


@pytest.fixture(scope="module")
async def public(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=runtime.http_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as c:
        yield c


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``{sorted label pairs: value}`` of one metric in a Prometheus text exposition."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_open_error_log_entries_per_code_match_the_table(
    client: httpx.AsyncClient, settings: Settings, tenant_id: str
) -> None:
    # A tenant the engine has no connection for: its write fails and opens TENANT_NOT_CONNECTED.
    event = ChangeEvent(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        event_id=change_event_id(tenant_id, "svenn", "project", "p-metrics", "1"),
        source=SourceSystem.SVENN,
        entity_type=EntityType.PROJECT,
        entity_id="p-metrics",
        change_kind=ChangeKind.CREATED,
        occurred_at=datetime.now(UTC),
        source_version="1",
        snapshot=ProjectSnapshot(number="2024.90", name="Målt", start_date=date(2026, 1, 5)),
    )
    assert (await client.post("/v1/changes", content=event.model_dump_json())).status_code == 202
    connection = await asyncpg.connect(settings.database_url)
    try:
        for _ in range(200):
            if await connection.fetchval(
                "SELECT count(*) FROM error_log WHERE tenant_id = $1 AND resolved_at IS NULL", tenant_id
            ):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the failed write opened no error-log entry")
        scraped = samples((await client.get("/metrics")).text, "tsync_error_log_open_entries")
        in_table = {r["error_code"]: r["n"] for r in await connection.fetch(OPEN_BY_CODE)}
    finally:
        await connection.close()

    gauge = {dict(labels)["error_code"]: value for labels, value in scraped.items()}
    assert gauge[TENANT_NOT_CONNECTED] >= 1
    assert gauge == {code: float(in_table.get(code, 0)) for code in {*CATALOG, *in_table}}


async def test_health_and_readiness(public: httpx.AsyncClient) -> None:
    assert (await public.get("/healthz")).json() == {"status": "ok"}
    ready = await public.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["roles"]) == {str(r) for r in ALL_ROLES}


async def test_metrics_are_served_on_the_internal_listener_only(
    client: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    assert (await public.get("/metrics")).status_code == 404
    assert "tsync_messages_published_total" in (await client.get("/metrics")).text
