"""No credential in any output (issue 10, "Prove it"): a whole ``tsync demo`` run, read everywhere.

The demo (``services.demo.run_demo``: a ``Sandbox`` with both simulators and the whole engine on
real Kafka and PostgreSQL, a two-way Svenn ⇄ Tripletex sync, then a Drifti month and its hours
export) runs in this process, with every other door used once as well: a change through the
internal ingest API with a producer's token, a readiness report with an operator's token, a panel
sign-in with a granted panel token. Captured meanwhile:

- every log record, of every logger, at DEBUG (a root handler; the demo's own logging set-up is
  left out so nothing filters), formatted as the engine formats them (JSON, extras included);
- every span attribute, event and status of the in-memory exporter (``tests/conftest.py``);
- every metric label value and sample of ``prometheus_client.REGISTRY``, and ``/metrics``;
- every Kafka message on every topic of the run's prefix: key, value and headers;
- what the demo printed.

Then every credential of the run is searched for, raw and in its obvious encodings (base64 of
itself and of the session's ``0:<token>`` Basic credential, URL- and JSON-escaped, hex): the
tenants' Tripletex consumer, employee and session tokens, Svenn and Drifti API keys, every
webhook secret, the panel token, the ingest and operator tokens, ``PANEL_SESSION_SECRET``,
``TENANT_SECRET_KEYS`` and the database password (when the URL has one).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from cryptography.fernet import Fernet
from prometheus_client import REGISTRY, generate_latest
from pydantic import SecretStr

from services import demo
from services.core.logs import JsonFormatter
from services.core.settings import Settings
from services.panel import access
from services.sandbox import Sandbox
from tests.conftest import SPANS

pytestmark = pytest.mark.integration

INGEST_TOKEN = secrets.token_urlsafe(24)
OPERATOR_TOKEN = secrets.token_urlsafe(24)
PANEL_SECRET = secrets.token_urlsafe(40)
FERNET_KEY = Fernet.generate_key().decode()


class Everything(logging.Handler):
    """Every record of every logger, formatted the engine's way plus its raw parts."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self._json.format(record))
        except Exception as exc:  # a record that cannot be formatted still counts, raw
            self.lines.append(f"{record.msg!r} {record.args!r} {record.__dict__!r} {exc!r}")


class RecordingSandbox(Sandbox):
    """The demo's sandbox, kept for the search afterwards; before it closes, the other doors are used."""

    last: RecordingSandbox | None = None
    panel_tokens: list[str] = []

    async def __aenter__(self) -> RecordingSandbox:
        RecordingSandbox.last = self
        await super().__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            if exc[0] is None:
                await self._other_doors()
        finally:
            await super().__aexit__(*exc)

    async def _other_doors(self) -> None:
        tenant = self.tenant.tenant_id
        async with httpx.AsyncClient(timeout=30) as http:
            change = {
                "tenant_id": tenant,
                "correlation_id": "8d3815b1-2ea1-4d71-9cb8-779aa0417433",
                "event_id": "77473d9d-946a-4589-bdf4-3dd398cd0fcc",
                "source": "svenn",
                "entity_type": "customer",
                "entity_id": "cus_secrets-test",
                "change_kind": "deleted",
                "occurred_at": "2026-11-02T10:00:00+00:00",
                "source_version": "1",
            }
            bearer = {"authorization": f"Bearer {INGEST_TOKEN}"}
            answer = await http.post(f"{self.internal_url}/v1/changes", json=change, headers=bearer)
            assert answer.status_code == 202, answer.text
            operator = {"authorization": f"Bearer {OPERATOR_TOKEN}"}
            readiness = await http.get(f"{self.internal_url}/tenants/{tenant}/readiness", headers=operator)
            assert readiness.status_code == 200, readiness.text
            assert self._pool is not None
            grant = await access.grant(self._pool, tenant, label="secrets test")
            RecordingSandbox.panel_tokens.append(grant.token)
            login = await http.post(f"{self.engine_url}/panel/login", data={"token": grant.token})
            assert login.status_code in (200, 303), login.text
            http.cookies = login.cookies
            panel = await http.get(f"{self.engine_url}/panel/{tenant}/")
            assert panel.status_code == 200
            # Wrong credentials too: their refusals are logged.
            await http.post(
                f"{self.internal_url}/v1/changes", json=change, headers={"authorization": "Bearer x"}
            )
            await http.post(f"{self.engine_url}/panel/login", data={"token": grant.token + "x"})
            metrics = await http.get(f"{self.internal_url}/metrics")
            RecordingSandbox.metrics_text = metrics.text

    metrics_text = ""


# --------------------------------------------------------------------------- what to look for
async def credentials(sandbox: Sandbox, settings: Settings) -> dict[str, str]:
    """Every credential of the run, by a name that says whose it is."""
    found: dict[str, str] = {
        "INGEST_API_TOKENS token": INGEST_TOKEN,
        "OPERATOR_TOKENS token": OPERATOR_TOKEN,
        "PANEL_SESSION_SECRET": PANEL_SECRET,
        "TENANT_SECRET_KEYS": FERNET_KEY,
    }
    password = urlsplit(settings.database_url).password
    if password:
        found["database password"] = password
    for config in await sandbox.tenants.all():
        sides = {"svenn": config.svenn, "tripletex": config.tripletex, "drifti": config.drifti}
        for side, connection in sides.items():
            for name, value in dict(connection or {}).items():
                if isinstance(value, SecretStr) and value.get_secret_value():
                    found[f"{config.tenant_id} {side} {name}"] = value.get_secret_value()
    for token in sandbox.tripletex_state.sessions:
        found[f"Tripletex session {token[:4]}…"] = token
    for number, token in enumerate(RecordingSandbox.panel_tokens):
        found[f"panel token {number}"] = token
        found[f"panel token {number} (its secret part)"] = token.rsplit("_", 1)[-1]
    return found


def encodings(secret: str) -> Iterator[tuple[str, str]]:
    raw = secret.encode()
    yield "raw", secret
    yield "base64", base64.b64encode(raw).decode()
    yield "base64url", base64.urlsafe_b64encode(raw).decode().rstrip("=")
    yield "Basic 0:<it>", base64.b64encode(b"0:" + raw).decode()
    yield "url-encoded", quote(secret, safe="")
    yield "JSON-escaped", json.dumps(secret)[1:-1]
    yield "hex", raw.hex()


# --------------------------------------------------------------------------- where to look
def span_texts() -> Iterator[str]:
    for span in SPANS.get_finished_spans():
        yield span.name
        yield repr(dict(span.attributes or {}))
        yield repr(span.status.description)
        for event in span.events:
            yield event.name
            yield repr(dict(event.attributes or {}))
        for link in span.links:
            yield repr(dict(link.attributes or {}))
        yield repr(dict(span.resource.attributes))


def metric_texts() -> Iterator[str]:
    for family in REGISTRY.collect():
        for sample in family.samples:
            yield repr(sample.labels)
            yield repr(sample.exemplar)
    yield generate_latest(REGISTRY).decode()


async def kafka_records(settings: Settings) -> list[bytes]:
    """Key, value and every header of every message on every topic of the run's prefix."""
    lister = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None)
    await lister.start()
    try:
        topics = sorted(t for t in await lister.topics() if t.startswith(settings.topic_prefix))
    finally:
        await lister.stop()
    assert topics, "the demo published nothing?"
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        while len({tp.topic for tp in consumer.assignment()}) < len(topics):
            await consumer.getmany(timeout_ms=100)  # assigned once the topics' metadata is in
        partitions = list(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    found += [r.key or b"", r.value or b""]
                    found += [name.encode() + b"=" + (value or b"") for name, value in r.headers]
    finally:
        await consumer.stop()
    return found


def leaks(secrets_by_name: dict[str, str], where: str, texts: list[str]) -> list[str]:
    blob = "\n".join(texts)
    return [
        f"{name} ({encoding}) in {where}"
        for name, secret in secrets_by_name.items()
        for encoding, form in encodings(secret)
        if form in blob
    ]


# --------------------------------------------------------------------------- the run
@pytest.fixture
def run_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}secrets.",
            "topic_partitions": 2,
            "ingest_api_tokens": SecretStr(f"tests:{INGEST_TOKEN}"),
            "operator_tokens": SecretStr(f"ops:{OPERATOR_TOKEN}"),
            "panel_session_secret": SecretStr(PANEL_SECRET),
            "tenant_secret_keys": SecretStr(FERNET_KEY),
        }
    )


@pytest.fixture
def everything() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in (None, "aiokafka", "httpx", "httpcore")}
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_a_demo_run_puts_no_credential_in_logs_spans_metrics_or_kafka(
    run_settings: Settings,
    everything: Everything,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(demo, "Sandbox", RecordingSandbox)
    monkeypatch.setattr(demo, "configure_logging", lambda level, fmt: None)  # keep DEBUG, our handler
    SPANS.clear()

    assert await demo.run_demo(run_settings) == 0

    printed = capsys.readouterr()
    sandbox = RecordingSandbox.last
    assert sandbox is not None
    found = await credentials(sandbox, run_settings)
    # The run had the credentials it is searched for: every side of the demo tenant, a session, a panel token.
    names = " ".join(found)
    for expected in ("tripletex consumer_token", "employee_token", "svenn api_key", "drifti webhook_secret"):
        assert expected in names, names
    assert any(name.startswith("Tripletex session") for name in found)
    assert everything.lines and SPANS.get_finished_spans()

    problems = (
        leaks(found, "logs", everything.lines)
        + leaks(found, "spans", list(span_texts()))
        + leaks(found, "metrics", [*metric_texts(), RecordingSandbox.metrics_text])
        + leaks(found, "demo output", [printed.out, printed.err])
    )
    kafka = await kafka_records(run_settings)
    kafka_blob = b"\n".join(kafka)
    problems += [
        f"{name} ({encoding}) on Kafka"
        for name, secret in found.items()
        for encoding, form in encodings(secret)
        if form.encode() in kafka_blob
    ]
    spans = len(SPANS.get_finished_spans())
    print(
        f"searched {len(found)} credentials x {len(list(encodings('x')))} encodings in "
        f"{len(everything.lines)} log lines, {spans} spans, {len(kafka)} Kafka keys/values/headers"
    )
    assert problems == [], "\n".join(problems)
