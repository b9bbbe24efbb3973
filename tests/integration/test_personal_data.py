"""Personal data (security #10 item 6): none in the logs, a tenant erased by offboarding.

One ``Sandbox`` (both simulators, the whole engine, real Kafka and PostgreSQL) syncs two tenants
both ways. The first one's records carry distinctive personal data (names, e-mail addresses,
phone numbers, an address); every log record of the run, at DEBUG, formatted as the engine
writes it, is searched for them. Then that tenant is offboarded while the engine runs: its rows
go from every table with a ``tenant_id`` column, its registry row, panel tokens, parked
commands and watermarks with them; every key of it on the compacted topics gets a tombstone,
which the live consumers pass over (no dead letter); a rebuild of its projections does not
bring it back; the other tenant is untouched; a second run finds nothing to do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet

from contracts import headers
from contracts.envelope import EntityType
from contracts.topics import (
    CONSUMERS,
    DECISION_CONSUMER,
    SVENN_CHANGES,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    dead_letter_topic,
    record_key,
)
from projections.rebuild import rebuild
from services.core import kafka_security
from services.core.logs import JsonFormatter, configure_logging
from services.core.settings import Settings
from services.core.tenants import SvennAccess, TenantConfig
from services.panel.access import grant
from services.sandbox import Sandbox, SandboxTenant
from services.tenants.offboard import ERASED_TABLES, count_rows, offboard, tenant_tables
from services.tenants.registry import TenantRegistry
from services.tenants.secret_box import SecretBox
from tests.integration.test_hostile_input import project_change
from tests.integration.topic_reader import read_to_end, read_topic

pytestmark = pytest.mark.integration

WAIT = 30.0
START = "2026-03-02"
# What must never reach a log line: names, e-mail addresses, phone numbers, an address.
PERSONAL = (
    "Pii Personsen",
    "Personsen",
    "ola.nordmann.pii",
    "pii%40example",
    "912 34 567",
    "91234567",
    "Piiveien",
    "faktura.pii",
    "Kari Piisdatter",
    "Piisdatter",
    "kari.pii",
    "987 65 432",
    "Piiprosjekt",
    "Piifornavn",
    "ensom.pii",
)


class Capture(logging.Handler):
    """Every log record, formatted as the engine writes it (JSON, extras and exceptions included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, self.format(record)))


def _engine_logger(name: str) -> bool:
    """The engine's loggers and the libraries it runs on; not the simulators standing in for the sides."""
    return "simulator" not in name and not name.startswith("services.restsim")


@pytest.fixture(scope="module")
async def capture() -> AsyncIterator[Capture]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    saved_levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    configure_logging("DEBUG", "json")  # as a process started with LOG_LEVEL=DEBUG
    handler = Capture()
    root.handlers[:] = [handler]  # instead of the stream configure_logging writes to
    yield handler
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="module")
async def sandbox(settings: Settings, capture: Capture) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings, tenant_prefix="pii") as running:
        yield running


@pytest.fixture(scope="module")
async def synced(sandbox: Sandbox) -> tuple[SandboxTenant, SandboxTenant]:
    """Tenant one with personal data synced both ways (and one rejection); tenant two a control."""
    one, two = sandbox.tenant, await sandbox.add_tenant()
    employee = await one.svenn.employees.create(
        {
            "first_name": "Pii",
            "last_name": "Personsen",
            "employee_number": "7001",
            "email": "ola.nordmann.pii@example.no",
            "phone": "+47 912 34 567",
        }
    )
    await one.svenn.customers.create(
        {
            "customer_number": "70001",
            "name": "Pii Personsen Rørlegger",
            "email": "faktura.pii@example.no",
            "phone": "+47 987 65 432",
            "address_line1": "Piiveien 7",
            "postal_code": "0150",
            "city": "Oslo",
        }
    )
    await one.tripletex_api(
        "POST",
        "/customer",
        {"name": "Kari Piisdatter", "customerNumber": 70002, "email": "kari.pii@example.no"},
    )
    await one.svenn.projects.create({"display_id": "2026.70", "name": "Piiprosjekt", "start_date": START})
    lonely = await one.svenn.employees.create(
        {"first_name": "Ensom Piifornavn", "email": "ensom.pii@example.no"}
    )
    await two.svenn.customers.create({"customer_number": "80001", "name": "Kontroll AS"})

    async def linked(tenant: SandboxTenant, entity_id: str) -> bool:
        return any(r["entity_id"] == entity_id for r in await sandbox.links(tenant.tenant_id))

    await sandbox.wait_until(lambda: linked(one, employee.id), WAIT)
    await sandbox.wait_until(lambda: one.tripletex_customer(70001), WAIT)
    await sandbox.wait_until(lambda: one.tripletex_project("2026.70"), WAIT)
    await sandbox.wait_until(lambda: _svenn_customer(one, "70002"), WAIT)
    await sandbox.wait_until(
        lambda: _any(sandbox.errors(one.tenant_id), lambda r: r["entity_id"] == lonely.id), WAIT
    )
    await sandbox.wait_until(lambda: two.tripletex_customer(80001), WAIT)
    await sandbox.settle(one.tenant_id, quiet=2.0)
    return one, two


async def _svenn_customer(t: SandboxTenant, number: str) -> Any:
    rows = await t.svenn.customers.list_all(customer_number=number)
    return rows[0] if rows else None


async def _any(rows: Any, predicate: Any) -> bool:
    return any(predicate(r) for r in await rows)


# --------------------------------------------------------------------------- logs
async def test_no_personal_data_in_any_log_line_of_a_two_way_sync(
    synced: tuple[SandboxTenant, SandboxTenant], capture: Capture
) -> None:
    one, _ = synced
    engine_lines = [line for name, line in capture.lines if _engine_logger(name)]
    assert len(engine_lines) > 50  # the capture saw the run (DEBUG included)
    assert any(one.tenant_id in line for line in engine_lines)  # ids are logged, as they should be
    found = [(value, line) for line in engine_lines for value in PERSONAL if value.lower() in line.lower()]
    assert not found, "personal data in the logs:\n" + "\n".join(
        f"{v!r}: {line[:400]}" for v, line in found[:10]
    )


# --------------------------------------------------------------------------- tombstones
async def test_a_tombstone_is_passed_over_and_an_empty_value_is_still_a_dead_letter(
    sandbox: Sandbox, settings: Settings, tenant_id: str
) -> None:
    key = record_key(tenant_id, EntityType.PROJECT, "sv-tomb")
    good = project_change(tenant_id, "sv-tomb")
    producer = kafka_security.producer(settings, linger_ms=20)
    await producer.start()
    try:
        topic = settings.topic(SVENN_CHANGES)
        for value in (None, b"", good.model_dump_json().encode()):
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    # The change behind both is decided: the partition went on.
    await read_topic(settings, SYNC_DECISIONS, lambda r: (r.key or b"").startswith(key), count=1)
    dead = await read_to_end(settings, dead_letter_topic(DECISION_CONSUMER), lambda r: r.key == key)
    assert [d.value for d in dead] == [b""]  # the empty value only; the tombstone is no dead letter
    assert dict(dead[0].headers)[headers.DLQ_STAGE] == b"decode"


# --------------------------------------------------------------------------- offboarding
KEY = Fernet.generate_key().decode()


async def _counts(connection: asyncpg.Connection, tenant: str) -> dict[str, int]:
    return {
        table: int(await connection.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant))
        for table in sorted(await tenant_tables(connection))
        if table != "tenant_erasure"
    }


async def _keys_with_values(settings: Settings, tenant: str) -> dict[tuple[str, int, bytes], bool]:
    """Per key of the tenant on the compacted topics: whether its last message has a value."""
    latest: dict[tuple[str, int, bytes], bool] = {}
    for topic in (SYNC_OUTCOMES, SYNC_DECISIONS):
        for r in await read_to_end(
            settings, topic, lambda r: (r.key or b"").startswith(f"{tenant}|".encode())
        ):
            latest[(topic, r.partition, r.key)] = r.value is not None
    return latest


async def test_offboarding_erases_the_tenant_everywhere_and_leaves_the_other_alone(
    sandbox: Sandbox, settings: Settings, synced: tuple[SandboxTenant, SandboxTenant]
) -> None:
    one, two = synced
    connection: asyncpg.Connection = await asyncpg.connect(settings.database_url)
    try:
        # What the registry and the operators' tools hold of a tenant beyond the sandbox's sync.
        registry = TenantRegistry(
            await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1), SecretBox([KEY])
        )
        try:
            await registry.add(
                TenantConfig(
                    tenant_id=one.tenant_id,
                    svenn=SvennAccess(
                        base_url="https://api.svenn.example", api_key="svn_pii_secret_key_1234567890"
                    ),
                )
            )
        finally:
            await registry.pool.close()
        await grant(connection, one.tenant_id, "support")
        await grant(connection, two.tenant_id, "support")
        await connection.execute(
            "INSERT INTO catch_up_watermark (tenant_id, side, resource, watermark)"
            " VALUES ($1, 'svenn', 'all', now())",
            one.tenant_id,
        )
        await connection.execute(
            "INSERT INTO parked_command (tenant_id, command_id, topic, record_key, command)"
            " VALUES ($1, $2, 'svenn.commands.v1', $3, '{}'::jsonb)",
            one.tenant_id,
            uuid.uuid4(),
            f"{one.tenant_id}|project|x".encode(),
        )
        before = await _counts(connection, one.tenant_id)
        other_before = await _counts(connection, two.tenant_id)
        for table in (
            "tenant",
            "panel_access",
            "parked_command",
            "catch_up_watermark",
            "link",
            "sync_outcome",
            "error_log",
            "decision_log",
            "seen_version",
        ):
            assert before[table] > 0, table  # the test fills what it checks
        keys = await _keys_with_values(settings, one.tenant_id)
        assert keys and all(keys.values())
        assert {t for t, *_ in keys} == {SYNC_OUTCOMES, SYNC_DECISIONS}
        assert all(key.count(b"|#") == 1 for _, _, key in keys)  # a key per message on compacted topics

        preview = await count_rows(settings, one.tenant_id)
        assert {t: n for t, n in preview.items() if n} == {t: n for t, n in before.items() if n}

        erasure = await offboard(settings, one.tenant_id, "dpo-test")

        assert erasure.rows == {t: before.get(t, 0) for t in ERASED_TABLES if t in before}
        assert sum(erasure.tombstones.values()) == len(keys)
        assert erasure.kafka_expires_by >= erasure.erased_at + timedelta(days=28)
        # Nothing of the tenant in any table, the erasure record apart.
        await sandbox.settle(one.tenant_id, quiet=1.0)
        assert set((await _counts(connection, one.tenant_id)).values()) == {0}
        (record,) = await connection.fetch("SELECT * FROM tenant_erasure WHERE tenant_id = $1", one.tenant_id)
        assert (record["erased_by"], record["erasure_id"]) == ("dpo-test", erasure.erasure_id)
        text = f"{dict(record)}"
        assert not [v for v in PERSONAL if v.lower() in text.lower()]
        # Every key of the tenant now ends in a tombstone, on the partition it was on.
        after = await _keys_with_values(settings, one.tenant_id)
        assert set(after) == set(keys) and not any(after.values())
        # The live consumers passed the tombstones over: no dead letter of the tenant anywhere.
        for consumer in CONSUMERS:
            letters = await read_to_end(
                settings,
                dead_letter_topic(consumer),
                lambda r: (r.key or b"").startswith(f"{one.tenant_id}|".encode()),
            )
            assert letters == [], consumer
        # A rebuild of the tenant's projections re-applies nothing of it (the messages are still
        # on the topics until compaction runs, but their keys are tombstoned).
        rebuilt = await rebuild(settings, one.tenant_id)
        assert rebuilt.applied == 0 and rebuilt.skipped == []
        assert set((await _counts(connection, one.tenant_id)).values()) == {0}
        # The other tenant is untouched.
        assert await _counts(connection, two.tenant_id) == other_before
        assert await two.tripletex_customer(80001) is not None

        again = await offboard(settings, one.tenant_id, "dpo-test")
        assert set(again.rows.values()) == {0} and set(again.tombstones.values()) == {0}
        assert (
            await connection.fetchval(
                "SELECT count(*) FROM tenant_erasure WHERE tenant_id = $1", one.tenant_id
            )
            == 2
        )
    finally:
        await connection.close()
