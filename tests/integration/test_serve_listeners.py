"""``tsync run ingest`` as operators start it: one process, two listeners, one event loop.

The public port answers probes and webhooks and does not know ``/v1/changes``; the internal port
takes a producer's change (which reaches Kafka) and serves ``/metrics``. A malformed token list
stops the process before it serves anything, naming the variable and never the token; SIGTERM
stops both listeners and the roles.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from contracts.envelope import ChangeEvent
from contracts.topics import SVENN_CHANGES, record_key
from services.core.settings import Settings
from tests.integration.ingest_api import BEARER, TOKEN, customer_deleted
from tests.integration.topic_reader import read_topic

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TENANT"))}
    return env | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "CATCH_UP": "false",
        "LOG_FORMAT": "text",
        "OTEL_SDK_DISABLED": "true",
        **extra,
    }


async def _tsync(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("tsync")),
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[tuple[str, str, asyncio.subprocess.Process]]:
    public, internal = _free_port(), _free_port()
    env = _env(
        settings, HTTP_PORT=str(public), INTERNAL_HTTP_PORT=str(internal), INGEST_API_TOKENS=f"tests:{TOKEN}"
    )
    process = await _tsync(env, "run", "ingest")
    urls = f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}"
    try:
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(60):
            while True:
                assert process.returncode is None, (await process.communicate())[1].decode()[-2000:]
                try:
                    if (await http.get(f"{urls[0]}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        yield urls[0], urls[1], process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_one_process_serves_webhooks_publicly_and_the_change_api_internally_then_stops_on_sigterm(
    ingest: tuple[str, str, asyncio.subprocess.Process], settings: Settings, tenant_id: str
) -> None:
    public, internal, process = ingest
    event = customer_deleted(tenant_id, "c-served")
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{public}/v1/changes", content=event.model_dump_json())).status_code == 404
        assert (await http.get(f"{public}/metrics")).status_code == 404
        assert (await http.post(f"{internal}/v1/changes", content=event.model_dump_json())).status_code == 401
        accepted = await http.post(f"{internal}/v1/changes", content=event.model_dump_json(), headers=BEARER)
        assert accepted.status_code == 202, accepted.text
        assert "tsync_messages_published_total" in (await http.get(f"{internal}/metrics")).text
    key = record_key(tenant_id, "customer", "c-served")
    (record,) = await read_topic(settings, SVENN_CHANGES, lambda r: r.key == key, count=1)
    assert ChangeEvent.model_validate_json(record.value or b"").event_id == event.event_id

    process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        _, stderr = await process.communicate()
    # uvicorn re-raises the signal once it has shut down cleanly: terminated by SIGTERM, no traceback.
    assert process.returncode in (0, -signal.SIGTERM), stderr.decode()[-2000:]
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]


async def test_a_malformed_token_list_stops_the_process_naming_the_variable_not_the_token(
    settings: Settings,
) -> None:
    secret = "a-token-nobody-may-read-in-a-log"
    env = _env(settings, HTTP_PORT=str(_free_port()), INTERNAL_HTTP_PORT=str(_free_port()))
    process = await _tsync(env | {"INGEST_API_TOKENS": f"tests {secret}"}, "run", "ingest")
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode != 0
    assert stderr.decode().strip().splitlines()[-1] == (
        "tsync: INGEST_API_TOKENS: entry 1 is not name:token (name: letters, digits, _.-)"
    )
    assert secret.encode() not in stdout + stderr
