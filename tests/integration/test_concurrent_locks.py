"""Locks under concurrency (issue 16, "Redelivery and locks"), on real PostgreSQL: migrations run by
several replicas at once against a fresh database apply each version once, and two presses of
Drifti's "Export hours to Tripletex" at once, on two engine replicas, export the hours once."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import asyncpg
import httpx
import pytest

from projections import migrate as migrations
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.drifti.client.webhooks import compute_signature
from services.drifti.hours.store import LinkKind, PostgresLinkStore
from services.runtime import Role, Runtime
from tests.integration.test_drifti_hours_export import drifti_totals, running_world, tripletex_totals

pytestmark = pytest.mark.integration

REPLICAS = 3


async def test_concurrent_migrations_of_a_fresh_database_apply_each_version_once(
    scratch_database: str,
) -> None:
    expected = [m.version for m in migrations.available()]
    connections = [await asyncpg.connect(scratch_database) for _ in range(REPLICAS)]
    try:
        # Every replica starts at once, each on its own connection (its own advisory-lock session).
        applied = await asyncio.gather(*(migrations.migrate(c) for c in connections))
        rows = await connections[0].fetch("SELECT version, name FROM schema_migration ORDER BY version")
        tables = {r["tablename"] for r in await connections[0].fetch("SELECT tablename FROM pg_tables")}
    finally:
        for c in connections:
            await c.close()
    # One replica applied everything, the others waited for it and found nothing left to do.
    assert sorted(applied, key=len) == [[]] * (REPLICAS - 1) + [expected]
    assert [r["version"] for r in rows] == expected  # one row per version (the primary key holds it too)
    assert {"projection_position", "write_intent", "seen_version", "decision_log"} <= tables
    # Replicas starting later find the schema complete.
    assert await migrations.migrate_url(scratch_database) == []


async def test_two_concurrent_presses_of_the_hours_export_on_two_replicas_export_once(
    settings: Settings, tenant_id: str
) -> None:
    settings = settings.model_copy(update={"catch_up": False})
    secret = "whsec_concurrent-export-test-secret"
    async with running_world(tenant_id, over_http=True, drifti_secret=secret) as world:
        tenants = StaticTenantDirectory([world.config])
        replicas = [Runtime(settings, [Role.INGEST], tenants) for _ in range(2)]  # each its own pool
        for replica in replicas:
            await replica.start()
        try:
            body = json.dumps({"from": "2026-10-01", "to": "2026-10-31"}).encode()
            spans: list[tuple[float, float]] = []

            async def press(replica: Runtime) -> httpx.Response:
                """Drifti's button, signed like its webhooks, reaching one replica."""
                stamp = str(int(time.time()))
                signed = {
                    "content-type": "application/json",
                    "X-Drifti-Timestamp": stamp,
                    "X-Drifti-Signature": compute_signature(secret, stamp, body),
                }
                transport = httpx.ASGITransport(app=replica.http_app())
                async with httpx.AsyncClient(transport=transport, base_url="http://engine", timeout=120) as c:
                    began = time.monotonic()
                    answer = await c.post(
                        f"/webhooks/drifti/{tenant_id}/export-hours", content=body, headers=signed
                    )
                    spans.append((began, time.monotonic()))
                    return answer

            answers = await asyncio.gather(*(press(r) for r in replicas))
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert max(b for b, _ in spans) < min(e for _, e in spans)  # both pressed before either ended
            entries = world.tripletex_entries()
            created = sorted(a.json()["entries"]["created"] for a in answers)
            # One press did the work; the other waited for the lock and found it done.
            assert created == [0, len(entries)] and len(entries) > 100
            assert all(a.json()["entries"]["updated"] == 0 for a in answers)
            # No entry twice: one per employee, project, activity and day.
            keys = Counter(
                (e["employee"]["id"], e["project"]["id"], e["activity"]["id"], e["date"]) for e in entries
            )
            assert max(keys.values()) == 1
            stored = await PostgresLinkStore(await replicas[0].database_pool()).load(tenant_id)
            assert await tripletex_totals(world) == await drifti_totals(
                world, stored[LinkKind.USER], stored[LinkKind.JOB]
            )
        finally:
            for replica in replicas:
                await replica.stop()
