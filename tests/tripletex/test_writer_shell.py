"""The Tripletex writer's consumer shell: tenants, cached clients, registration.

These tests exercise the writer without Kafka: tenant lookup, client caching and shutdown.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pydantic import SecretStr, TypeAdapter

from contracts.entities import ProjectSnapshot
from contracts.envelope import (
    Command,
    EntityType,
    ExpectedLink,
    LinkState,
    Operation,
    OutcomeStatus,
    SourceSystem,
)
from contracts.error_codes import TENANT_NOT_CONNECTED
from contracts.topics import TRIPLETEX_COMMANDS, TRIPLETEX_WRITER_CONSUMER
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, SvennAccess, TenantConfig, TripletexAccess
from services.writers.registry import WRITER_OF


@pytest.fixture
def writer_module() -> Any:
    import services.tripletex.writer as module

    return module


def make_writer(module: Any, tenants: StaticTenantDirectory) -> Any:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    return module.TripletexWriter(
        tenants=tenants,
        broker=KafkaBroker("127.0.0.1:1"),
        publisher=Publisher(settings),
        settings=settings,
        consumer=TRIPLETEX_WRITER_CONSUMER,
        topics=[TRIPLETEX_COMMANDS],
        adapter=TypeAdapter(Command),
    )


def command(tenant_id: str) -> Command:
    return Command(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=SourceSystem.SVENN,
        target=SourceSystem.TRIPLETEX,
        operation=Operation.CREATE,
        entity_type=EntityType.PROJECT,
        source_entity_id="p-1",
        payload=ProjectSnapshot(number="1", name="P"),
        expected_link=ExpectedLink(state=LinkState.ABSENT),
        rule_id="S-P4",
    )


def access(token: str = "employee-token-1") -> TripletexAccess:
    return TripletexAccess(
        base_url="http://127.0.0.1:9/v2",
        consumer_token=SecretStr("consumer-token"),
        employee_token=SecretStr(token),
    )


def test_the_registry_routes_tripletex_commands_to_the_tripletex_writer(writer_module: Any) -> None:
    assert WRITER_OF[SourceSystem.TRIPLETEX] is writer_module.TripletexWriter


async def test_an_unknown_tenant_or_one_without_tripletex_fails_with_a_clear_message(
    writer_module: Any,
) -> None:
    tenants = StaticTenantDirectory([TenantConfig(tenant_id="svenn-only")])
    writer = make_writer(writer_module, tenants)

    unknown = await writer.apply(command("nobody"))
    assert (unknown.status, unknown.error_code) == (OutcomeStatus.FAILED, TENANT_NOT_CONNECTED)
    assert "not registered" in unknown.error_message

    no_access = await writer.apply(command("svenn-only"))
    assert (no_access.status, no_access.error_code) == (OutcomeStatus.FAILED, TENANT_NOT_CONNECTED)
    assert "no Tripletex connection" in no_access.error_message


async def test_one_client_per_tenant_rebuilt_when_its_connection_changes(writer_module: Any) -> None:
    writer = make_writer(writer_module, StaticTenantDirectory())
    tenant = TenantConfig(tenant_id="t1", tripletex=access())
    first = await writer.target_for(tenant)
    assert await writer.target_for(tenant) is first
    assert first.svenn is None

    svenn = SvennAccess(base_url="http://127.0.0.1:9", api_key=SecretStr("svenn-key"))
    changed = await writer.target_for(
        tenant.model_copy(update={"tripletex": access("new-token"), "svenn": svenn})
    )
    assert changed is not first and changed.svenn is not None
    other = await writer.target_for(TenantConfig(tenant_id="t2", tripletex=access()))
    # One limiter registry for the process: every tenant paced on its own budget through it.
    assert other.tripletex.transport.limiter is writer_module.process_limiters().for_tenant("t2")
    assert changed.tripletex.transport.limiter is writer_module.process_limiters().for_tenant("t1")
    await writer.aclose()
    assert "credentials=**********" in repr(other.tripletex)
