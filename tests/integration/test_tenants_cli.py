"""``tsync tenants`` against real PostgreSQL, through typer's CliRunner: no secret is ever printed."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from contracts.entities import CustomerSnapshot
from contracts.envelope import Command, EntityType, ExpectedLink, LinkState, Operation, SourceSystem
from contracts.topics import record_key
from projections.database import Database
from services.cli import app
from services.core.settings import Settings
from services.core.topic_admin import ensure_topics
from services.core.write_gate import Admission
from services.tenants.directory import PostgresTenantDirectory
from services.tenants.parking import PostgresWriteGate
from services.tenants.registry import TenantRegistry
from services.tenants.secret_box import SecretBox

pytestmark = pytest.mark.integration

OLD_KEY = Fernet.generate_key().decode()
SECRETS = ("consumer-s3cr3t", "employee-s3cr3t", "hook-s3cr3t", "svenn-s3cr3t", "n3w-employee")


@pytest.fixture
def cli(settings: Settings) -> CliRunner:
    return CliRunner(
        env={"DATABASE_URL": settings.database_url, "TENANT_SECRET_KEYS": OLD_KEY, "COLUMNS": "200"}
    )


def stored(settings: Settings, tenant_id: str, key: str = OLD_KEY) -> dict[str, object]:
    async def read() -> dict[str, object]:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            config = await TenantRegistry(pool, SecretBox([key])).get(tenant_id)
            return config.model_dump(mode="json") | {
                "secrets": {
                    side: {
                        n: v.get_secret_value()
                        for n, v in getattr(config, side)
                        if hasattr(v, "get_secret_value")
                    }
                    for side in ("svenn", "tripletex")
                    if getattr(config, side) is not None
                }
            }
        finally:
            await pool.close()

    return asyncio.run(read())


def assert_no_secret(output: str) -> None:
    for value in (*SECRETS, OLD_KEY):
        assert value not in output


def test_add_with_hidden_prompts_then_list_shows_which_credentials_are_set_masked(
    cli: CliRunner, settings: Settings, tenant_id: str
) -> None:
    added = cli.invoke(
        app,
        ["tenants", "add", tenant_id, "--tripletex-url", "https://tt.test/v2"],
        input="consumer-s3cr3t\nemployee-s3cr3t\n\n",
    )
    assert added.exit_code == 0, added.output
    assert "tripletex.consumer_token" in added.output
    assert_no_secret(added.output)
    listed = cli.invoke(app, ["tenants", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.output.splitlines() if tenant_id in row)
    assert "active" in line and "https://tt.test/v2" in line
    assert "consumer_token ••••" in line and "webhook_secret (not set)" in line
    assert_no_secret(listed.output)
    secrets = stored(settings, tenant_id)["secrets"]
    assert secrets == {
        "tripletex": {"consumer_token": "consumer-s3cr3t", "employee_token": "employee-s3cr3t"}
    }


def test_add_from_a_config_file_like_tenants_file(
    cli: CliRunner, settings: Settings, tenant_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "tenant.json"
    path.write_text(
        json.dumps(
            {
                "svenn": {
                    "base_url": "https://svenn.test",
                    "api_key": "svenn-s3cr3t",
                    "webhook_secret": "hook-s3cr3t",
                },
                "tripletex": {
                    "base_url": "https://tt.test/v2",
                    "consumer_token": "consumer-s3cr3t",
                    "employee_token": "employee-s3cr3t",
                },
            }
        )
    )
    added = cli.invoke(app, ["tenants", "add", tenant_id, "--config", str(path), "--paused"])
    assert added.exit_code == 0, added.output
    assert "(paused)" in added.output
    assert_no_secret(added.output)
    assert stored(settings, tenant_id)["paused"] is True
    again = cli.invoke(app, ["tenants", "add", tenant_id, "--config", str(path)])
    assert again.exit_code == 1 and "already registered" in again.output


def test_bad_input_gets_a_clear_error_and_no_secret(cli: CliRunner, tenant_id: str, tmp_path: Path) -> None:
    path = tmp_path / "tenant.json"
    path.write_text(
        json.dumps({"tripletex": {"base_url": "https://tt.test/v2", "consumer_token": "consumer-s3cr3t"}})
    )
    missing = cli.invoke(app, ["tenants", "add", tenant_id, "--config", str(path)])
    assert missing.exit_code == 1
    assert "tripletex.employee_token: Field required" in missing.output
    assert_no_secret(missing.output)
    broken = cli.invoke(
        app, ["tenants", "add", tenant_id, "--config", "-"], input='{"svenn": "svenn-s3cr3t" x}'
    )
    assert broken.exit_code == 1 and "-: not JSON" in broken.output
    assert_no_secret(broken.output)
    absent = cli.invoke(app, ["tenants", "add", tenant_id, "--config", str(tmp_path / "nope.json")])
    assert absent.exit_code == 1 and "cannot be read" in absent.output
    nothing = cli.invoke(app, ["tenants", "add", tenant_id])
    assert nothing.exit_code == 1 and "connect at least one side" in nothing.output
    unknown = cli.invoke(app, ["tenants", "pause", f"{tenant_id}-nobody"])
    assert unknown.exit_code == 1 and "not registered" in unknown.output
    no_keys = cli.invoke(
        app,
        ["tenants", "add", tenant_id, "--tripletex-url", "https://tt.test/v2"],
        input="a\nb\n\n",
        env={"TENANT_SECRET_KEYS": ""},
    )
    assert no_keys.exit_code == 1 and "TENANT_SECRET_KEYS" in no_keys.output


def test_rotate_secret_from_stdin_replaces_one_credential_silently(
    cli: CliRunner, settings: Settings, tenant_id: str
) -> None:
    cli.invoke(
        app,
        ["tenants", "add", tenant_id, "--tripletex-url", "https://tt.test/v2"],
        input="consumer-s3cr3t\nemployee-s3cr3t\n\n",
    )
    rotated = cli.invoke(
        app,
        [
            "tenants",
            "rotate-secret",
            tenant_id,
            "--side",
            "tripletex",
            "--field",
            "employee_token",
            "--stdin",
        ],
        input="n3w-employee\n",
    )
    assert rotated.exit_code == 0, rotated.output
    assert "replaced tripletex.employee_token" in rotated.output
    assert_no_secret(rotated.output)
    prompted = cli.invoke(
        app,
        ["tenants", "rotate-secret", tenant_id, "--side", "tripletex", "--field", "webhook_secret"],
        input="hook-s3cr3t\nhook-s3cr3t\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert_no_secret(prompted.output)
    assert stored(settings, tenant_id)["secrets"] == {
        "tripletex": {
            "consumer_token": "consumer-s3cr3t",
            "employee_token": "n3w-employee",
            "webhook_secret": "hook-s3cr3t",
        }
    }
    wrong = cli.invoke(
        app,
        ["tenants", "rotate-secret", tenant_id, "--side", "tripletex", "--field", "base_url", "--stdin"],
        input="x\n",
    )
    assert wrong.exit_code == 1 and "not a credential" in wrong.output


def test_rotate_key_reseals_everything_with_the_new_first_key(
    cli: CliRunner, settings: Settings, tenant_id: str
) -> None:
    cli.invoke(
        app,
        ["tenants", "add", tenant_id, "--tripletex-url", "https://tt.test/v2"],
        input="consumer-s3cr3t\nemployee-s3cr3t\n\n",
    )
    new_key = Fernet.generate_key().decode()
    both = {"TENANT_SECRET_KEYS": f"{new_key},{OLD_KEY}"}
    listed = cli.invoke(app, ["tenants", "list"], env=both)
    assert "(old)" in next(row for row in listed.output.splitlines() if tenant_id in row)
    rotated = cli.invoke(app, ["tenants", "rotate-key"], env=both)
    # Other tests' tenants in a shared database are sealed with keys of their own: named, not fatal.
    assert "re-sealed" in rotated.output and tenant_id not in rotated.output, rotated.output
    assert SecretBox([new_key]).key_id in rotated.output
    assert new_key not in rotated.output and OLD_KEY not in rotated.output
    assert stored(settings, tenant_id, key=new_key)["tenant_id"] == tenant_id
    listed = cli.invoke(app, ["tenants", "list"], env={"TENANT_SECRET_KEYS": new_key})
    assert "(old)" not in next(row for row in listed.output.splitlines() if tenant_id in row)


def test_pause_list_and_resume_from_the_command_line(
    cli: CliRunner, settings: Settings, tenant_id: str
) -> None:
    cli.invoke(
        app,
        ["tenants", "add", tenant_id, "--tripletex-url", "https://tt.test/v2"],
        input="consumer-s3cr3t\nemployee-s3cr3t\n\n",
    )
    env = {"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "TOPIC_PREFIX": settings.topic_prefix}
    env["TENANT_CACHE_TTL_S"] = "0"
    paused = cli.invoke(app, ["tenants", "pause", tenant_id], env=env)
    assert paused.exit_code == 0 and "paused" in paused.output
    command = Command(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=SourceSystem.SVENN,
        target=SourceSystem.TRIPLETEX,
        operation=Operation.CREATE,
        entity_type=EntityType.CUSTOMER,
        source_entity_id="sv-1",
        payload=CustomerSnapshot(name="Parkert AS"),
        expected_link=ExpectedLink(state=LinkState.ABSENT),
        rule_id="S-TEST",
    )

    async def gate(action: str) -> None:
        database = Database(settings.database_url)
        await database.start()
        try:
            directory = PostgresTenantDirectory(database, SecretBox([OLD_KEY]), ttl_s=0)
            gate = PostgresWriteGate(database, directory)
            if action == "park":
                assert (
                    await gate.admit(command, record_key(tenant_id, "customer", "sv-1")) is Admission.PARKED
                )
            else:
                await gate.written(command)
        finally:
            await database.stop()

    asyncio.run(gate("park"))
    asyncio.run(ensure_topics(settings))  # as every role does at start-up
    listed = cli.invoke(app, ["tenants", "list"], env=env)
    assert "paused (1 parked)" in next(row for row in listed.output.splitlines() if tenant_id in row)
    # No Tripletex writer runs here: the released command is not written, and resume says so.
    waiting = cli.invoke(app, ["tenants", "resume", tenant_id, "--wait", "0.2"], env=env)
    assert waiting.exit_code == 1
    assert "still resuming: 1 of 1 released command(s) are not written yet" in " ".join(
        waiting.output.split()
    )
    asyncio.run(gate("written"))  # as the Tripletex writer does after writing it
    resumed = cli.invoke(app, ["tenants", "resume", tenant_id, "--wait", "2"], env=env)
    assert resumed.exit_code == 0, resumed.output
    listed = cli.invoke(app, ["tenants", "list"], env=env)
    row = next(row for row in listed.output.splitlines() if tenant_id in row)
    assert "active" in row and "parked" not in row
