"""Pausing a tenant on real Kafka and PostgreSQL: its writes stop, nothing is lost, resume writes
each parked command once and in order, and other tenants are never held up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.entities import CustomerSnapshot
from contracts.envelope import Command, EntityType, ExpectedLink, LinkState, Operation, SourceSystem
from contracts.topics import COMMAND_TOPICS, record_key
from projections.database import Database
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig
from services.core.write_gate import TENANT_PAUSED, Admission
from services.runtime import Role, Runtime
from services.svenn.simulator.app import create_app
from services.svenn.simulator.state import SimState
from services.svenn.simulator.testing import serve_asgi
from services.tenants.directory import PostgresTenantDirectory
from services.tenants.parking import PostgresWriteGate
from services.tenants.registry import TenantRegistry
from services.tenants.resume import resume
from services.tenants.secret_box import SecretBox

pytestmark = pytest.mark.integration

KEY = Fernet.generate_key().decode()
OUTCOMES = "SELECT * FROM sync_outcome WHERE tenant_id = $1 ORDER BY recorded_at, outcome_id"


@dataclass
class Engine:
    runtime: Runtime
    registry: TenantRegistry
    directory: PostgresTenantDirectory
    database: Database
    sim_url: str
    http: httpx.AsyncClient

    async def connect(self, tenant_id: str) -> None:
        """A Svenn tenant in the simulator, registered in the tenant registry."""
        r = await self.http.post(f"{self.sim_url}/_sim/tenants", json={"name": tenant_id})
        r.raise_for_status()
        await self.registry.add(
            TenantConfig.model_validate(
                {"tenant_id": tenant_id, "svenn": {"base_url": self.sim_url, "api_key": r.json()["api_key"]}}
            )
        )

    async def customers(self, tenant_id: str) -> list[str]:
        r = await self.http.get(f"{self.sim_url}/_sim/tenants/{tenant_id}/dump")
        r.raise_for_status()
        return sorted(c["name"] for c in r.json()["customers"])

    async def send(self, *commands: Command) -> None:
        for c in commands:
            key = record_key(c.tenant_id, c.entity_type, c.source_entity_id)
            await (await self.runtime.publisher.send(COMMAND_TOPICS[c.target], key, c))

    async def outcomes(
        self, tenant_id: str, until: Callable[[list[asyncpg.Record]], bool]
    ) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = []
        for _ in range(200):
            rows = await self.database.pool.fetch(OUTCOMES, tenant_id)
            if until(rows):
                return rows
            await asyncio.sleep(0.1)
        raise AssertionError(f"outcomes of {tenant_id} never satisfied the condition: {rows}")


@pytest.fixture(scope="module")
async def engine(settings: Settings) -> AsyncIterator[Engine]:
    database = Database(settings.database_url)
    await database.start()
    box = SecretBox([KEY])
    directory = PostgresTenantDirectory(database, box, ttl_s=0.2)
    runtime = Runtime(settings, [Role.SVENN_WRITER, Role.PROJECTIONS], tenants=directory)
    await runtime.start()
    try:
        async with serve_asgi(create_app(SimState())) as sim_url, httpx.AsyncClient(timeout=10) as http:
            yield Engine(runtime, TenantRegistry(database.pool, box), directory, database, sim_url, http)
    finally:
        await runtime.stop()
        await database.stop()


def create(
    tenant_id: str, name: str, *, source_id: str = "tx-1", target: SourceSystem = SourceSystem.SVENN
) -> Command:
    return Command(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=SourceSystem.TRIPLETEX if target is SourceSystem.SVENN else SourceSystem.SVENN,
        target=target,
        operation=Operation.CREATE,
        entity_type=EntityType.CUSTOMER,
        source_entity_id=source_id,
        payload=CustomerSnapshot(name=name),
        expected_link=ExpectedLink(state=LinkState.ABSENT),
        rule_id="S-TEST",
    )


async def test_pause_parks_writes_resume_writes_each_once_in_order_and_others_go_on(
    engine: Engine, tenant_id: str
) -> None:
    other = f"{tenant_id}-other"
    await engine.connect(tenant_id)
    await engine.connect(other)
    await engine.registry.pause(tenant_id)
    engine.directory.invalidate()  # a running process sees it within TENANT_CACHE_TTL_S; here at once

    first, second = create(tenant_id, "Først AS"), create(tenant_id, "Deretter AS")
    # The same command twice (a redelivery while paused) is parked once.
    await engine.send(first, first, second, create(other, "Annen AS"))

    held = await engine.outcomes(tenant_id, lambda rows: len(rows) >= 2)
    assert [(r["command_id"], r["status"]) for r in held] == [
        (first.command_id, "skipped"),
        (second.command_id, "skipped"),
    ]
    assert all(r["reason"].startswith(TENANT_PAUSED) for r in held)
    await engine.outcomes(other, lambda rows: [r["status"] for r in rows] == ["applied"])
    assert await engine.customers(other) == ["Annen AS"]  # the other tenant was not held up
    assert await engine.customers(tenant_id) == []  # paused: nothing written
    parked = await engine.database.pool.fetch(
        "SELECT command_id FROM parked_command WHERE tenant_id = $1 ORDER BY seq", tenant_id
    )
    assert [r["command_id"] for r in parked] == [first.command_id, second.command_id]

    report = await resume(engine.database.pool, engine.runtime.publisher, tenant_id, wait_s=20)
    assert (report.state, report.released, report.waiting) == ("active", 2, 0)
    rows = await engine.outcomes(tenant_id, lambda rows: len(rows) >= 4)
    applied = [r["command_id"] for r in rows if r["status"] == "applied"]
    assert applied == [first.command_id, second.command_id]  # in the order they were parked
    assert await engine.customers(tenant_id) == ["Deretter AS", "Først AS"]  # each written once
    assert (
        await engine.database.pool.fetchval(
            "SELECT count(*) FROM parked_command WHERE tenant_id = $1", tenant_id
        )
        == 0
    )
    assert (await engine.registry.row(tenant_id)).state == "active"

    # Active again: a new command is written straight away, and resuming twice changes nothing.
    engine.directory.invalidate()
    third = create(tenant_id, "Sist AS", source_id="tx-2")
    await engine.send(third)
    await engine.outcomes(tenant_id, lambda rows: any(r["command_id"] == third.command_id for r in rows))
    again = await resume(engine.database.pool, engine.runtime.publisher, tenant_id, wait_s=1)
    assert (again.state, again.released) == ("active", 0)
    await asyncio.sleep(0.3)  # time for a (wrong) second write to show up
    assert await engine.customers(tenant_id) == ["Deretter AS", "Først AS", "Sist AS"]


async def test_gate_states_park_release_and_drop_a_written_copy(engine: Engine, tenant_id: str) -> None:
    await engine.connect(tenant_id)
    await engine.registry.pause(tenant_id)
    directory = PostgresTenantDirectory(engine.database, SecretBox([KEY]), ttl_s=0)
    gate = PostgresWriteGate(engine.database, directory)
    parked, newer = create(tenant_id, "A"), create(tenant_id, "B")
    key = record_key(tenant_id, EntityType.CUSTOMER, "tx-1")

    assert await gate.admit(parked, key) is Admission.PARKED
    assert await gate.admit(parked, key) is Admission.PARKED  # kept once
    pool = engine.database.pool
    await pool.execute("UPDATE tenant SET state = 'resuming' WHERE tenant_id = $1", tenant_id)
    await pool.execute("UPDATE parked_command SET released_at = now() WHERE tenant_id = $1", tenant_id)
    assert await gate.admit(parked, key) is Admission.WRITE_RELEASED
    # Something new while resuming waits behind the released commands.
    assert await gate.admit(newer, key) is Admission.PARKED
    await gate.written(parked)
    assert await gate.admit(parked, key) is Admission.DUPLICATE
    rows = await pool.fetch(
        "SELECT command_id, released_at IS NOT NULL AS released FROM parked_command WHERE tenant_id = $1 "
        "ORDER BY seq",
        tenant_id,
    )
    assert [(r["command_id"], r["released"]) for r in rows] == [
        (parked.command_id, True),
        (newer.command_id, False),
    ]
    await pool.execute("UPDATE tenant SET state = 'active' WHERE tenant_id = $1", tenant_id)
    assert await gate.admit(create(tenant_id, "C"), key) is Admission.WRITE


async def test_resume_without_a_running_writer_stays_resuming_and_loses_nothing(
    engine: Engine, tenant_id: str
) -> None:
    await engine.connect(tenant_id)
    await engine.registry.pause(tenant_id)
    gate = PostgresWriteGate(
        engine.database, PostgresTenantDirectory(engine.database, SecretBox([KEY]), ttl_s=0)
    )
    # Nobody in this process writes to Tripletex: the released command is not written.
    waiting = create(tenant_id, "Venter AS", target=SourceSystem.TRIPLETEX)
    assert await gate.admit(waiting, record_key(tenant_id, "customer", "tx-1")) is Admission.PARKED
    report = await resume(engine.database.pool, engine.runtime.publisher, tenant_id, wait_s=0.3)
    assert (report.state, report.released, report.waiting) == ("resuming", 1, 1)
    assert (await engine.registry.row(tenant_id)).state == "resuming"
    await engine.registry.pause(tenant_id)  # paused again: the command stays parked
    assert await gate.admit(waiting, record_key(tenant_id, "customer", "tx-1")) is Admission.PARKED
    await gate.written(waiting)  # as the Tripletex writer would after writing it
    finished = await resume(engine.database.pool, engine.runtime.publisher, tenant_id, wait_s=1)
    assert finished.state == "active"


def test_runtime_uses_the_registry_when_keys_are_set_and_no_tenants_file(
    settings: Settings, tmp_path: object
) -> None:
    with_keys = settings.model_copy(update={"tenant_secret_keys": SecretStr(KEY), "tenants_file": None})
    runtime = Runtime(with_keys, [Role.SVENN_WRITER])
    assert isinstance(runtime.tenants, PostgresTenantDirectory)
    assert runtime.database is not None and runtime.write_gate is not None
    static = Runtime(settings.model_copy(update={"tenant_secret_keys": None}), [Role.SVENN_WRITER])
    assert isinstance(static.tenants, StaticTenantDirectory)
    # No pausing without the registry, but a writer parks the tenants whose side does not answer
    # (services/tenants/outages.py): it has the database with TENANTS_FILE too.
    assert static.database is not None and static.write_gate is None
