"""The Tripletex writer on real Kafka and PostgreSQL, calling the Tripletex simulator over HTTP.

Commands are published to ``tripletex.commands.v1`` as the decision would publish them; the
assertions read the simulator's own state (``/_sim`` dump) and the projections' rows
(``sync_outcome``, ``link``). Named after the rules they prove.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from contracts.entities import (
    CustomerSnapshot,
    EmployeeSnapshot,
    EntitySnapshot,
    ProjectSnapshot,
    ProjectStatus,
)
from contracts.envelope import Command, EntityType, ExpectedLink, LinkState, Operation, SourceSystem
from contracts.topics import TRIPLETEX_COMMANDS, TRIPLETEX_WRITER_CONSUMER, dead_letter_topic, record_key
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, TripletexAccess
from services.runtime import Role, Runtime
from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import SimulatorState
from services.tripletex.writer_testing import serve_on_loopback

pytestmark = pytest.mark.integration

START = date(2026, 1, 5)


@dataclass
class Sim:
    state: SimulatorState
    url: str
    admin: httpx.AsyncClient
    statuses: Counter[int]


class CountStatuses:
    """ASGI wrapper counting the simulator's response statuses (to prove a burst really hit)."""

    def __init__(self, app: Any, statuses: Counter[int]) -> None:
        self.app = app
        self.statuses = statuses

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


@dataclass
class Harness:
    runtime: Runtime
    tenants: StaticTenantDirectory
    sim: Sim
    settings: Settings


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[Sim]:
    state = SimulatorState(rng_seed=5)
    statuses: Counter[int] = Counter()
    app = CountStatuses(create_app(state), statuses)
    async with serve_on_loopback(app) as url, httpx.AsyncClient(base_url=url) as admin:
        yield Sim(state, url, admin, statuses)


@pytest.fixture(scope="module")
async def harness(settings: Settings, sim: Sim) -> AsyncIterator[Harness]:
    tenants = StaticTenantDirectory()
    runtime = Runtime(settings, [Role.TRIPLETEX_WRITER, Role.PROJECTIONS], tenants=tenants)
    await runtime.start()
    try:
        yield Harness(runtime, tenants, sim, settings)
    finally:
        await runtime.stop()


@dataclass
class Tenant:
    tenant_id: str
    company_id: int
    h: Harness
    tokens: tuple[str, str] = ("", "")

    async def dump(self) -> dict[str, list[dict[str, Any]]]:
        response = await self.h.sim.admin.get(f"/_sim/companies/{self.company_id}")
        response.raise_for_status()
        data: dict[str, list[dict[str, Any]]] = response.json()["data"]
        return data

    async def rows(self, schema: str, **equals: Any) -> list[dict[str, Any]]:
        return [
            r for r in (await self.dump()).get(schema, []) if all(r.get(k) == v for k, v in equals.items())
        ]

    def insert(self, schema: str, row: dict[str, Any]) -> dict[str, Any]:
        """Data a Tripletex user made before the integration (straight into the simulator)."""
        company = self.h.sim.state.companies[self.company_id]
        return self.h.sim.state.insert(company, schema, row)

    async def faults(self, **config: Any) -> None:
        response = await self.h.sim.admin.put(f"/_sim/companies/{self.company_id}/faults", json=config)
        response.raise_for_status()

    @property
    def api_employee_id(self) -> int:
        return self.h.sim.state.companies[self.company_id].api_employee_id

    async def send(self, command: Command) -> None:
        key = record_key(command.tenant_id, command.entity_type, command.source_entity_id)
        await (await self.h.runtime.publisher.send(TRIPLETEX_COMMANDS, key, command))

    async def outcome(self, command: Command, within: float = 30.0) -> asyncpg.Record:
        connection = await asyncpg.connect(self.h.settings.database_url)
        try:
            async with asyncio.timeout(within):
                while True:
                    row = await connection.fetchrow(
                        "SELECT * FROM sync_outcome WHERE command_id = $1", command.command_id
                    )
                    if row is not None:
                        return row
                    await asyncio.sleep(0.05)
        finally:
            await connection.close()

    async def apply(self, command: Command) -> asyncpg.Record:
        await self.send(command)
        return await self.outcome(command)

    def command(
        self,
        operation: Operation,
        payload: EntitySnapshot,
        *,
        source_entity_id: str = "svenn-1",
        rule_id: str = "S-P4",
        linked_to: str | None = None,
        source: SourceSystem = SourceSystem.SVENN,
    ) -> Command:
        return Command(
            tenant_id=self.tenant_id,
            correlation_id=uuid.uuid4(),
            command_id=uuid.uuid4(),
            source=source,
            target=SourceSystem.TRIPLETEX,
            operation=operation,
            entity_type=EntityType(payload.kind),
            source_entity_id=source_entity_id,
            payload=payload,
            expected_link=ExpectedLink(
                state=LinkState.LINKED if linked_to else LinkState.ABSENT, target_entity_id=linked_to
            ),
            rule_id=rule_id,
        )


@pytest.fixture
async def tenant(harness: Harness, tenant_id: str) -> Tenant:
    response = await harness.sim.admin.post("/_sim/companies", json={"name": f"Firma {tenant_id}"})
    response.raise_for_status()
    company = response.json()
    harness.tenants.put(
        TenantConfig(
            tenant_id=tenant_id,
            tripletex=TripletexAccess(
                base_url=f"{harness.sim.url}/v2",
                consumer_token=company["consumerToken"],
                employee_token=company["employeeToken"],
            ),
        )
    )
    return Tenant(tenant_id, company["id"], harness, (company["consumerToken"], company["employeeToken"]))


def project(number: str | None = "2024.17", **kw: Any) -> ProjectSnapshot:
    return ProjectSnapshot(number=number, name=kw.pop("name", "Bad renovation"), start_date=START, **kw)


async def test_S_P4_create_makes_one_project_and_the_link_table_links_both_ways(tenant: Tenant) -> None:
    cmd = tenant.command(Operation.CREATE, project(), source_entity_id="svenn-p-1")
    outcome = await tenant.apply(cmd)

    (created,) = await tenant.rows("Project", number="2024.17")
    assert (outcome["status"], outcome["rule_id"]) == ("applied", "S-P4")
    assert outcome["target_entity_id"] == str(created["id"])
    assert created["isInternal"] is False and created["projectManager"]["id"] == tenant.api_employee_id

    connection = await asyncpg.connect(tenant.h.settings.database_url)
    try:
        links = await connection.fetch("SELECT * FROM link WHERE tenant_id = $1", tenant.tenant_id)
    finally:
        await connection.close()
    assert sorted(
        (r["system"], r["entity_id"], r["other_system"], r["other_id"], r["state"]) for r in links
    ) == [
        ("svenn", "svenn-p-1", "tripletex", str(created["id"]), "linked"),
        ("tripletex", str(created["id"]), "svenn", "svenn-p-1", "linked"),
    ]


async def test_S_P4_the_same_command_delivered_twice_creates_one_project(tenant: Tenant) -> None:
    cmd = tenant.command(Operation.CREATE, project("2024.18"))
    await tenant.send(cmd)
    await tenant.send(cmd)  # a redelivery: same command id, same everything
    marker = tenant.command(Operation.CREATE, project("2024.19"), source_entity_id="svenn-2")
    await tenant.apply(marker)  # the writer reads in order: once this is done, both copies are

    assert len(await tenant.rows("Project", number="2024.18")) == 1
    first = await tenant.outcome(cmd)
    assert first["status"] == "applied"


async def test_S_P4_an_existing_internal_project_with_the_number_is_linked_and_stays_internal(
    tenant: Tenant,
) -> None:
    existing = tenant.insert(
        "Project",
        {
            "name": "Intern drift",
            "number": "A12.3",
            "startDate": "2025-01-01",
            "isInternal": True,
            "isClosed": False,
            "projectManager": {"id": tenant.api_employee_id},
        },
    )
    outcome = await tenant.apply(tenant.command(Operation.CREATE, project("A12.3", name="Intern drift")))

    assert outcome["status"] == "applied" and outcome["target_entity_id"] == str(existing["id"])
    assert "matched" in outcome["reason"] and "stays internal" in outcome["reason"]
    (linked,) = await tenant.rows("Project", number="A12.3")
    assert linked["isInternal"] is True


async def test_S_C4_a_customer_from_svenn_gets_email_invoicing_and_an_inactive_one_is_matched(
    tenant: Tenant,
) -> None:
    new = CustomerSnapshot(
        customer_number="5001", name="Kunde AS", email="faktura@kunde.no", invoice_send_method="EMAIL"
    )
    created = await tenant.apply(tenant.command(Operation.CREATE, new, rule_id="S-C4", source_entity_id="c1"))
    (row,) = await tenant.rows("Customer", customerNumber=5001)
    assert created["status"] == "applied" and row["invoiceSendMethod"] == "EMAIL"

    inactive = tenant.insert("Customer", {"name": "Sovende AS", "customerNumber": 5002, "isInactive": True})
    old = CustomerSnapshot(customer_number="5002", name="Sovende AS", invoice_send_method="EMAIL")
    matched = await tenant.apply(tenant.command(Operation.CREATE, old, rule_id="S-C4", source_entity_id="c2"))
    assert matched["status"] == "applied" and matched["target_entity_id"] == str(inactive["id"])
    assert "matched" in matched["reason"]
    (still,) = await tenant.rows("Customer", customerNumber=5002)
    assert still["isInactive"] is True


async def test_an_update_that_changes_nothing_leaves_the_version_alone(tenant: Tenant) -> None:
    created = await tenant.apply(tenant.command(Operation.CREATE, project("300")))
    project_id = created["target_entity_id"]
    (before,) = await tenant.rows("Project", number="300")

    outcome = await tenant.apply(tenant.command(Operation.UPDATE, project("300"), linked_to=project_id))
    assert outcome["status"] == "applied" and outcome["reason"] == "already up to date (nothing written)"
    (after,) = await tenant.rows("Project", number="300")
    assert after["version"] == before["version"]


async def test_S_P7_completed_in_svenn_closes_the_project(tenant: Tenant) -> None:
    created = await tenant.apply(tenant.command(Operation.CREATE, project("301")))
    completed = project("301", status=ProjectStatus.COMPLETED)
    outcome = await tenant.apply(
        tenant.command(Operation.COMPLETE, completed, linked_to=created["target_entity_id"], rule_id="S-P7")
    )
    assert outcome["status"] == "applied"
    (closed,) = await tenant.rows("Project", number="301")
    assert closed["isClosed"] is True


async def test_S_P5_a_project_without_number_gets_one_that_collides_with_nothing(tenant: Tenant) -> None:
    for number in ("17", "2024.99", "B7"):
        tenant.insert("Project", {"name": number, "number": number, "startDate": "2026-01-01"})
    bare = tenant.insert(
        "Project",
        {"name": "Uten nummer", "number": "", "startDate": "2026-02-01", "projectManager": {"id": 1}},
    )
    cmd = tenant.command(
        Operation.ASSIGN_NUMBER,
        ProjectSnapshot(name="Uten nummer", start_date=date(2026, 2, 1)),
        source=SourceSystem.TRIPLETEX,
        source_entity_id=str(bare["id"]),
        rule_id="S-P5",
    )
    outcome = await tenant.apply(cmd)

    assert outcome["status"] == "applied" and outcome["target_entity_id"] == str(bare["id"])
    numbers = [p["number"] for p in await tenant.rows("Project")]
    assert numbers.count("18") == 1 and len(numbers) == len(set(numbers))
    (numbered,) = await tenant.rows("Project", id=bare["id"])
    assert numbered["number"] == "18"


async def test_S_E1_an_employee_tripletex_rejects_fails_with_the_field_named(tenant: Tenant) -> None:
    payload = EmployeeSnapshot(employee_number="77", first_name="Ola", last_name="", email="ola@x.no")
    outcome = await tenant.apply(tenant.command(Operation.CREATE, payload, rule_id="S-E1"))
    assert (outcome["status"], outcome["error_code"]) == ("failed", "WRITE_REJECTED")
    assert "lastName: " in outcome["error_message"]
    assert not await tenant.rows("Employee", employeeNumber="77")


async def test_a_429_and_5xx_burst_is_retried_and_applied_without_a_dead_letter(tenant: Tenant) -> None:
    # Another integration on the same tokens has just spent the tenant's budget (4 per 2 s),
    # and Tripletex answers 500 to whatever gets through.
    await tenant.faults(rateLimit=4, ratePeriodSeconds=2)
    await spend_budget(tenant)
    await tenant.faults(errorRate=1.0)
    before = Counter(tenant.h.sim.statuses)
    cmd = tenant.command(Operation.CREATE, project("900"), source_entity_id="svenn-burst")
    await tenant.send(cmd)
    await until(lambda: (tenant.h.sim.statuses - before)[500] >= 2)  # the writer meets 429s, then 500s ...
    await tenant.faults(errorRate=0.0)  # ... then Tripletex is back (still with its small budget)
    outcome = await tenant.outcome(cmd)
    await tenant.faults(rateLimit=10_000, ratePeriodSeconds=60)

    hits = tenant.h.sim.statuses - before
    assert hits[429] > 0 and hits[500] > 0, hits
    assert outcome["status"] == "applied"
    assert len(await tenant.rows("Project", number="900")) == 1
    key = record_key(tenant.tenant_id, EntityType.PROJECT, "svenn-burst")
    assert await dead_letters(tenant.h.settings, key) == 0


async def test_a_command_for_an_unknown_tenant_fails_clearly(harness: Harness) -> None:
    stranger = Tenant(f"t-{uuid.uuid4().hex[:12]}", 0, harness)
    outcome = await stranger.apply(stranger.command(Operation.CREATE, project()))
    assert (outcome["status"], outcome["error_code"]) == ("failed", "TENANT_NOT_CONNECTED")
    assert "not registered" in outcome["error_message"]


async def until(condition: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``condition`` (something only visible by looking, like the simulator's counters)."""
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {within} s")


async def spend_budget(tenant: Tenant) -> None:
    """Use up the tenant's rate budget with its own tokens, as another integration would."""
    admin = tenant.h.sim.admin
    minted = await admin.post(
        "/v2/token/session/:create",
        json={
            "consumerToken": tenant.tokens[0],
            "employeeToken": tenant.tokens[1],
            "expirationDate": (date.today() + timedelta(days=3)).isoformat(),
        },
    )
    minted.raise_for_status()
    auth = httpx.BasicAuth("0", minted.json()["value"]["token"])
    for _ in range(20):
        if (await admin.get("/v2/employee", auth=auth)).status_code == 429:
            return
    raise AssertionError("the budget was not spent")


async def dead_letters(settings: Settings, key: bytes) -> int:
    """How many records with ``key`` the writer's dead-letter topic holds (read to its end)."""
    consumer = AIOKafkaConsumer(
        settings.topic(dead_letter_topic(TRIPLETEX_WRITER_CONSUMER)),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found = 0
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.05)
            partitions = consumer.assignment()
        end = await consumer.end_offsets(list(partitions))
        async with asyncio.timeout(10):
            while [p for p in partitions if await consumer.position(p) < end[p]]:
                batch = await consumer.getmany(timeout_ms=200)
                found += sum(1 for records in batch.values() for r in records if r.key == key)
    finally:
        await consumer.stop()
    return found
