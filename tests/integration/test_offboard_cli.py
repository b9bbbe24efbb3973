"""``tsync tenants offboard`` through typer's CliRunner, on real PostgreSQL and Kafka.

It asks before erasing (no answer, nothing erased), erases with ``--yes`` or a yes, shows what
it erased per table and topic with the erasure record's id, prints no credential, and a second
run is harmless.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from typer.testing import CliRunner

from services.cli import app
from services.core.settings import Settings
from services.core.tenants import SvennAccess, TenantConfig
from services.core.topic_admin import ensure_topics
from services.tenants.registry import TenantRegistry
from services.tenants.secret_box import SecretBox

pytestmark = pytest.mark.integration

KEY = Fernet.generate_key().decode()
API_KEY = "svn_offboard_s3cr3t_0123456789"


@pytest.fixture
def cli(settings: Settings) -> CliRunner:
    asyncio.run(ensure_topics(settings))
    return CliRunner(
        env={
            "DATABASE_URL": settings.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "TOPIC_PREFIX": settings.topic_prefix,
            "TENANT_SECRET_KEYS": KEY,
            "COLUMNS": "200",
        }
    )


def _fetch(settings: Settings, sql: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(settings.database_url)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(run())


def _register(settings: Settings, tenant_id: str) -> None:
    async def run() -> None:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            await TenantRegistry(pool, SecretBox([KEY])).add(
                TenantConfig(
                    tenant_id=tenant_id,
                    svenn=SvennAccess(base_url="https://api.svenn.test", api_key=SecretStr(API_KEY)),
                )
            )
        finally:
            await pool.close()

    asyncio.run(run())


def test_offboard_asks_first_then_erases_and_records_it(
    cli: CliRunner, settings: Settings, tenant_id: str
) -> None:
    _register(settings, tenant_id)
    granted = cli.invoke(app, ["panel", "grant", "--tenant", tenant_id, "--label", "support"])
    assert granted.exit_code == 0, granted.output

    declined = cli.invoke(app, ["tenants", "offboard", "--tenant", tenant_id], input="n\n")
    assert declined.exit_code == 1
    assert "nothing erased" in declined.output
    assert "tenant 1" in declined.output and "panel_access 1" in declined.output  # what it would erase
    assert len(_fetch(settings, "SELECT 1 FROM tenant WHERE tenant_id = $1", tenant_id)) == 1

    erased = cli.invoke(app, ["tenants", "offboard", "--tenant", tenant_id, "--by", "ops-anna"], input="y\n")
    assert erased.exit_code == 0, erased.output
    assert API_KEY not in erased.output and KEY not in erased.output
    assert "erasure record" in erased.output and "expire by" in erased.output
    assert _fetch(settings, "SELECT 1 FROM tenant WHERE tenant_id = $1", tenant_id) == []
    assert _fetch(settings, "SELECT 1 FROM panel_access WHERE tenant_id = $1", tenant_id) == []
    (record,) = _fetch(settings, "SELECT * FROM tenant_erasure WHERE tenant_id = $1", tenant_id)
    assert record["erased_by"] == "ops-anna"
    assert f"erasure record {record['erasure_id']}" in erased.output
    listed = cli.invoke(app, ["tenants", "list"])
    assert tenant_id not in listed.output

    again = cli.invoke(app, ["tenants", "offboard", "--tenant", tenant_id, "--yes", "--by", "ops-anna"])
    assert again.exit_code == 0, again.output
    assert f"no rows of {tenant_id}" in again.output
    assert len(_fetch(settings, "SELECT 1 FROM tenant_erasure WHERE tenant_id = $1", tenant_id)) == 2
