"""The writers' outage parking on real PostgreSQL and Kafka, state by state (``services.tenants.outages``):
park, keep order, release, drop a written copy, re-park a released command that meets the side down
again (its place kept), and end the outage once everything is written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from contracts.entities import CustomerSnapshot
from contracts.envelope import Command, EntityType, ExpectedLink, LinkState, Operation, SourceSystem
from contracts.topics import record_key
from projections.database import Database
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig
from services.core.topic_admin import ensure_topics
from services.core.write_gate import Admission, SideUnreachable
from services.tenants.outages import Outages

pytestmark = pytest.mark.integration


@pytest.fixture
async def outages(settings: Settings, tenant_id: str) -> AsyncIterator[Outages]:
    """A Svenn writer's outages; its process serves ``tenant_id`` only."""
    await ensure_topics(settings)
    database = Database(settings.database_url)
    await database.start()
    async with Publisher(settings) as publisher:
        tenants = StaticTenantDirectory([TenantConfig(tenant_id=tenant_id)])
        yield Outages(database, publisher, settings, SourceSystem.SVENN, tenants)
    await database.stop()


def create(tenant_id: str, name: str) -> Command:
    return Command(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=SourceSystem.TRIPLETEX,
        target=SourceSystem.SVENN,
        operation=Operation.CREATE,
        entity_type=EntityType.CUSTOMER,
        source_entity_id=name,
        payload=CustomerSnapshot(name=name),
        expected_link=ExpectedLink(state=LinkState.ABSENT),
        rule_id="S-TEST",
    )


async def answers(_tenant: str, _side: SourceSystem) -> None:
    """A probe of a side that answers."""


async def test_parked_in_order_released_written_once_and_reparked_in_place(
    outages: Outages, tenant_id: str
) -> None:
    pool = outages.database.pool
    first, second, third = create(tenant_id, "A"), create(tenant_id, "B"), create(tenant_id, "C")
    key = record_key(tenant_id, EntityType.CUSTOMER, "A")
    down = SideUnreachable(SourceSystem.SVENN, tenant_id, "Svenn is unavailable: 503")

    assert await outages.admit(first, key) is Admission.WRITE  # no outage: nothing asked of PostgreSQL
    await outages.park_failed(first, key, down)
    assert await outages.admit(second, key) is Admission.PARKED  # everything later waits behind it
    assert await outages.admit(second, key) is Admission.PARKED  # kept once
    parked = "SELECT command_id FROM parked_command WHERE tenant_id = $1 ORDER BY seq"
    assert [r["command_id"] for r in await pool.fetch(parked, tenant_id)] == [
        first.command_id,
        second.command_id,
    ]

    # The probe finds the side answering: releasing; the released ones are written, new ones wait behind.
    await pool.execute("UPDATE side_outage SET next_probe_at = now() WHERE tenant_id = $1", tenant_id)
    await outages.tick(answers)
    state = "SELECT state FROM side_outage WHERE tenant_id = $1"
    assert await pool.fetchval(state, tenant_id) == "releasing"
    assert await outages.admit(first, key) is Admission.WRITE_RELEASED
    await outages.written(first)
    assert await outages.admit(first, key) is Admission.DUPLICATE  # a second copy is dropped
    assert await outages.admit(third, key) is Admission.PARKED  # new: behind the released ones

    # The second meets the side down again: the outage is open again and it keeps its place.
    assert await outages.admit(second, key) is Admission.WRITE_RELEASED
    await outages.park_failed(second, key, down)
    assert await pool.fetchval(state, tenant_id) == "open"
    rows = await pool.fetch(
        "SELECT command_id, released_at IS NULL AS waiting FROM parked_command WHERE tenant_id = $1 "
        "AND written_at IS NULL ORDER BY seq",
        tenant_id,
    )
    assert [(r["command_id"], r["waiting"]) for r in rows] == [
        (second.command_id, True),
        (third.command_id, True),
    ]

    # It answers again: the rest is released in order, written, and the outage ends.
    await pool.execute("UPDATE side_outage SET next_probe_at = now() WHERE tenant_id = $1", tenant_id)
    await outages.tick(answers)
    for command in (second, third):
        assert await outages.admit(command, key) is Admission.WRITE_RELEASED
        await outages.written(command)
    await outages.tick(answers)
    assert await pool.fetchval(state, tenant_id) is None
    assert not await pool.fetch(parked, tenant_id)
    assert await outages.admit(create(tenant_id, "D"), key) is Admission.WRITE
