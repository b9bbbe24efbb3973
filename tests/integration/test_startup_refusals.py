"""`tsync run` refuses to start on an incomplete Kafka login or a tenant's plain-http base URL: one line
naming the variable or the tenant, never the password."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from services.core.settings import Settings
from tests.integration.test_serve_listeners import _env, _free_port, _tsync

pytestmark = pytest.mark.integration


async def _last_line(env: dict[str, str], *args: str) -> tuple[int, str, bytes]:
    process = await _tsync(env, *args)
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stderr.decode().strip().splitlines()[-1], stdout + stderr


async def test_a_sasl_protocol_without_its_login_stops_the_process(settings: Settings) -> None:
    password = "a-kafka-password-nobody-may-read"
    env = _env(settings, HTTP_PORT=str(_free_port()), INTERNAL_HTTP_PORT=str(_free_port()))
    env |= {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": password}
    code, line, output = await _last_line(env, "run", "ingest")
    assert code != 0
    assert line == "tsync: KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
    assert password.encode() not in output


async def test_a_tenants_file_with_a_plain_http_base_url_stops_the_process(
    settings: Settings, tmp_path: Path
) -> None:
    tenants = tmp_path / "tenants.json"
    tenants.write_text(
        json.dumps(
            [{"tenant_id": "acme", "svenn": {"base_url": "http://api.svenn.no", "api_key": "k-s3cr3t"}}]
        )
    )
    env = _env(settings, HTTP_PORT=str(_free_port()), INTERNAL_HTTP_PORT=str(_free_port()))
    code, line, output = await _last_line(env | {"TENANTS_FILE": str(tenants)}, "run", "ingest")
    assert code != 0
    assert line.startswith("tsync: tenant 'acme': svenn base URL 'http://api.svenn.no' must be https://")
    assert b"k-s3cr3t" not in output
