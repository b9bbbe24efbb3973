"""Tenants' credentials on real PostgreSQL: each sealed blob is bound to its tenant, base URLs are https.

Swapping two tenants' blobs in the database (what an attacker with write access to the table, or
a botched restore, could do) must make both unreadable, never hand one tenant's Tripletex
tokens to the other's writers. Rows sealed before the binding still open and are bound by
``tsync tenants rotate-key``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from projections.database import Database
from services.cli import app
from services.core.settings import Settings
from services.core.tenants import TenantConfig, UnknownTenant
from services.tenants.directory import PostgresTenantDirectory
from services.tenants.registry import InvalidTenant, TenantRegistry
from services.tenants.secret_box import SecretBox, SecretsUnreadable

pytestmark = pytest.mark.integration

KEY = Fernet.generate_key().decode()


def config(tenant_id: str, token: str, base_url: str = "https://tripletex.test/v2") -> TenantConfig:
    return TenantConfig.model_validate(
        {
            "tenant_id": tenant_id,
            "tripletex": {
                "base_url": base_url,
                "consumer_token": f"c-{token}",
                "employee_token": f"e-{token}",
            },
        }
    )


@pytest.fixture(scope="module")
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
def registry(database: Database) -> TenantRegistry:
    return TenantRegistry(database.pool, SecretBox([KEY]))


async def _swap(database: Database, a: str, b: str) -> None:
    await database.pool.execute(
        """UPDATE tenant t SET secrets = o.secrets, revision = t.revision + 1
           FROM tenant o WHERE (t.tenant_id, o.tenant_id) IN (($1, $2), ($2, $1))""",
        a,
        b,
    )


async def test_swapped_blobs_make_both_tenants_unreadable_not_swapped(
    registry: TenantRegistry, database: Database, tenant_id: str
) -> None:
    a, b = f"{tenant_id}-a", f"{tenant_id}-b"
    await registry.add(config(a, "alpha"))
    await registry.add(config(b, "bravo"))
    assert (await registry.get(a)).tripletex.employee_token.get_secret_value() == "e-alpha"  # type: ignore[union-attr]

    await _swap(database, a, b)

    for victim in (a, b):
        with pytest.raises(SecretsUnreadable, match="sealed for another tenant") as refused:
            await registry.get(victim)
        assert "alpha" not in str(refused.value) and "bravo" not in str(refused.value)
    # the writers' directory skips both (their writes fail as "not connected"): nobody's tokens
    directory = PostgresTenantDirectory(database, SecretBox([KEY]), ttl_s=0)
    for victim in (a, b):
        with pytest.raises(UnknownTenant):
            await directory.get(victim)
    # and re-keying reports them instead of re-sealing the wrong tokens under the new key
    _, _, unreadable = await TenantRegistry(
        database.pool, SecretBox([Fernet.generate_key().decode(), KEY])
    ).rotate_key()
    assert {a, b} <= set(unreadable)


async def test_rows_sealed_before_binding_open_once_and_rotate_key_binds_them(
    registry: TenantRegistry, database: Database, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = f"{tenant_id}-a", f"{tenant_id}-b"
    for name, token in ((a, "alpha"), (b, "bravo")):
        await registry.add(config(name, token))
        # what the registry stored before blobs named their tenant: Fernet over the bare secrets
        legacy = Fernet(KEY.encode()).encrypt(
            json.dumps(
                {"tripletex": {"consumer_token": f"c-{token}", "employee_token": f"e-{token}"}}
            ).encode()
        )
        await database.pool.execute("UPDATE tenant SET secrets = $2 WHERE tenant_id = $1", name, legacy)

    with caplog.at_level(logging.WARNING, logger="services.tenants.registry"):
        assert (await registry.get(a)).tripletex.consumer_token.get_secret_value() == "c-alpha"  # type: ignore[union-attr]
    assert any("rotate-key" in r.getMessage() and getattr(r, "tenant_id", None) == a for r in caplog.records)

    resealed, _, unreadable = await registry.rotate_key()  # same key: re-seals only what is not bound
    assert resealed >= 2 and a not in unreadable and b not in unreadable
    assert (await registry.get(b)).tripletex.consumer_token.get_secret_value() == "c-bravo"  # type: ignore[union-attr]
    stored = {
        r["tenant_id"]: r["secrets"]
        for r in await database.pool.fetch(
            "SELECT tenant_id, secrets FROM tenant WHERE tenant_id IN ($1, $2)", a, b
        )
    }
    await registry.rotate_key()  # nothing of these two left to re-seal
    assert stored == {
        r["tenant_id"]: r["secrets"]
        for r in await database.pool.fetch(
            "SELECT tenant_id, secrets FROM tenant WHERE tenant_id IN ($1, $2)", a, b
        )
    }

    await _swap(database, a, b)
    for victim in (a, b):
        with pytest.raises(SecretsUnreadable):
            await registry.get(victim)


async def test_registry_refuses_a_plain_http_base_url_unless_allowed(
    registry: TenantRegistry, database: Database, tenant_id: str
) -> None:
    with pytest.raises(
        InvalidTenant, match=re.escape("tripletex base URL 'http://tripletex.no/v2' must be https://")
    ):
        await registry.add(config(tenant_id, "alpha", "http://tripletex.no/v2"))
    assert await database.pool.fetchval("SELECT count(*) FROM tenant WHERE tenant_id = $1", tenant_id) == 0
    await registry.add(config(f"{tenant_id}-local", "alpha", "http://127.0.0.1:8123/v2"))  # a simulator
    allowed = TenantRegistry(database.pool, SecretBox([KEY]), allow_plain_http=True)
    await allowed.add(config(tenant_id, "alpha", "http://tripletex.internal/v2"))


def test_tenants_add_refuses_plain_http_before_asking_for_credentials(
    settings: Settings, tenant_id: str, tmp_path: Path
) -> None:
    cli = CliRunner(env={"DATABASE_URL": settings.database_url, "TENANT_SECRET_KEYS": KEY, "COLUMNS": "200"})
    result = cli.invoke(app, ["tenants", "add", tenant_id, "--tripletex-url", "http://tripletex.no/v2"])
    assert result.exit_code == 1
    assert "tripletex base URL 'http://tripletex.no/v2' must be https://" in result.output
    assert "consumer_token" not in result.output  # no prompt was shown

    file = tmp_path / "acme.json"
    file.write_text(json.dumps({"svenn": {"base_url": "http://api.svenn.no", "api_key": "svenn-s3cr3t"}}))
    result = cli.invoke(app, ["tenants", "add", tenant_id, "--config", str(file)])
    assert result.exit_code == 1
    assert "svenn base URL 'http://api.svenn.no' must be https://" in result.output
    assert "svenn-s3cr3t" not in result.output

    allowed = CliRunner(
        env={"DATABASE_URL": settings.database_url, "TENANT_SECRET_KEYS": KEY, "ALLOW_PLAIN_HTTP": "true"}
    )
    assert allowed.invoke(app, ["tenants", "add", tenant_id, "--config", str(file)]).exit_code == 0
