"""The tenant registry on real PostgreSQL: credentials sealed at rest, the cached directory, re-keying."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from projections.database import Database
from services.core.settings import Settings
from services.core.tenants import TenantConfig, UnknownTenant
from services.tenants.directory import PostgresTenantDirectory, find_tenant
from services.tenants.registry import InvalidTenant, TenantExists, TenantRegistry
from services.tenants.secret_box import SecretBox, SecretsUnreadable

pytestmark = pytest.mark.integration

KEY = Fernet.generate_key().decode()
SECRET_VALUES = ("consumer-s3cr3t", "employee-s3cr3t", "hook-s3cr3t", "svenn-key-s3cr3t")


def config(tenant_id: str, *, paused: bool = False) -> TenantConfig:
    return TenantConfig.model_validate(
        {
            "tenant_id": tenant_id,
            "paused": paused,
            "tripletex": {
                "base_url": "https://tripletex.test/v2",
                "consumer_token": "consumer-s3cr3t",
                "employee_token": "employee-s3cr3t",
                "webhook_secret": "hook-s3cr3t",
            },
            "svenn": {"base_url": "https://svenn.test", "api_key": "svenn-key-s3cr3t"},
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


async def test_added_tenant_reads_back_and_its_credentials_are_sealed_at_rest(
    registry: TenantRegistry, tenant_id: str
) -> None:
    row = await registry.add(config(tenant_id))
    assert row.sides == ("svenn", "tripletex")
    assert row.state == "active"
    assert await registry.get(tenant_id) == config(tenant_id)
    stored = await registry.pool.fetchrow("SELECT * FROM tenant WHERE tenant_id = $1", tenant_id)
    everything = repr(dict(stored)).encode() + bytes(stored["secrets"])
    for value in SECRET_VALUES:
        assert value.encode() not in everything
    assert set(stored["credentials_set"]) == {
        "svenn.api_key",
        "tripletex.consumer_token",
        "tripletex.employee_token",
        "tripletex.webhook_secret",
    }


async def test_duplicate_or_invalid_tenants_are_refused_with_clear_errors(
    registry: TenantRegistry, tenant_id: str
) -> None:
    await registry.add(config(tenant_id))
    with pytest.raises(TenantExists):
        await registry.add(config(tenant_id))
    with pytest.raises(InvalidTenant, match="lower-case"):
        await registry.add(config(tenant_id).model_copy(update={"tenant_id": "Not Valid"}))
    with pytest.raises(InvalidTenant, match="connects no side"):
        await registry.add(TenantConfig(tenant_id=f"{tenant_id}-x"))
    with pytest.raises(UnknownTenant):
        await registry.get(f"{tenant_id}-missing")


async def test_set_credential_replaces_one_secret_and_keeps_the_others(
    registry: TenantRegistry, tenant_id: str
) -> None:
    await registry.add(config(tenant_id))
    await registry.set_credential(tenant_id, "tripletex", "employee_token", SecretStr("employee-n3w"))
    tenant = await registry.get(tenant_id)
    assert tenant.tripletex is not None and tenant.svenn is not None
    assert tenant.tripletex.employee_token.get_secret_value() == "employee-n3w"
    assert tenant.tripletex.consumer_token.get_secret_value() == "consumer-s3cr3t"
    assert tenant.svenn.api_key.get_secret_value() == "svenn-key-s3cr3t"
    with pytest.raises(InvalidTenant, match="not a credential") as caught:
        await registry.set_credential(tenant_id, "tripletex", "base_url", SecretStr("http://x"))
    assert "tripletex.employee_token" in str(caught.value)
    with pytest.raises(InvalidTenant, match="no drifti connection"):
        await registry.set_credential(tenant_id, "drifti", "api_key", SecretStr("drifti-s3cr3t"))


async def test_rotate_key_reseals_with_the_first_key_so_the_old_one_can_go(
    database: Database, tenant_id: str
) -> None:
    old, new = KEY, Fernet.generate_key().decode()
    await TenantRegistry(database.pool, SecretBox([old])).add(config(tenant_id))
    rotating = TenantRegistry(database.pool, SecretBox([new, old]))
    resealed, total, _ = await rotating.rotate_key()
    assert resealed >= 1 and total >= resealed
    assert (await rotating.row(tenant_id)).key_id == SecretBox([new]).key_id
    assert await TenantRegistry(database.pool, SecretBox([new])).get(tenant_id) == config(tenant_id)
    with pytest.raises(SecretsUnreadable) as caught:
        await TenantRegistry(database.pool, SecretBox([old])).get(tenant_id)
    assert old not in str(caught.value) and new not in str(caught.value)
    assert (await rotating.rotate_key())[0] == 0  # nothing left on an old key it can open
    stranger_key = Fernet.generate_key().decode()
    await TenantRegistry(database.pool, SecretBox([stranger_key])).add(config(f"{tenant_id}-other"))
    resealed, _, unreadable = await rotating.rotate_key()
    assert resealed == 0 and f"{tenant_id}-other" in unreadable
    assert stranger_key not in repr(unreadable)


async def test_directory_caches_for_the_ttl_and_then_sees_a_pause(
    database: Database, registry: TenantRegistry, tenant_id: str
) -> None:
    await registry.add(config(tenant_id))
    directory = PostgresTenantDirectory(database, SecretBox([KEY]), ttl_s=0.2)
    assert (await directory.get(tenant_id)).paused is False
    await registry.pause(tenant_id)
    assert (await directory.get(tenant_id)).paused is False  # cached: no database hit per message
    await asyncio.sleep(0.25)
    assert (await directory.get(tenant_id)).paused is True
    assert tenant_id in {t.tenant_id for t in await directory.all()}
    with pytest.raises(UnknownTenant):
        await directory.get(f"{tenant_id}-missing")


async def test_a_tenant_whose_credentials_cannot_be_opened_is_left_out_and_logged_without_secrets(
    database: Database, registry: TenantRegistry, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    await registry.add(config(tenant_id))
    stranger = PostgresTenantDirectory(database, SecretBox([Fernet.generate_key().decode()]), ttl_s=60)
    with caplog.at_level(logging.ERROR, logger="services.tenants.directory"), pytest.raises(UnknownTenant):
        await stranger.get(tenant_id)
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert tenant_id in logged
    for value in (*SECRET_VALUES, KEY):
        assert value not in logged
    assert "s3cr3t" not in repr(await registry.get(tenant_id))


async def test_command_line_tools_find_a_tenant_in_the_registry_or_the_file(
    settings: Settings, registry: TenantRegistry, tenant_id: str, tmp_path: Path
) -> None:
    await registry.add(config(tenant_id))
    with_keys = settings.model_copy(update={"tenant_secret_keys": SecretStr(KEY), "tenants_file": None})
    assert await find_tenant(with_keys, tenant_id) == config(tenant_id)
    file = tmp_path / "tenants.json"
    file.write_text(
        json.dumps([{"tenant_id": "from-file", "svenn": {"base_url": "https://s", "api_key": "k"}}])
    )
    from_file = with_keys.model_copy(update={"tenants_file": str(file)})
    assert (await find_tenant(from_file, "from-file")).tenant_id == "from-file"
    with pytest.raises(UnknownTenant):
        await find_tenant(from_file, tenant_id)
