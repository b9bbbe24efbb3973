"""Writer lanes (issue 15): a batch's commands run concurrently, fair between tenants, and what the
engine relies on stays in order — a record's commands one after another, an employee's create before
a project naming it (S-P8), customers and projects before Drifti invoices, invoices before payments.

The writer is the real ``CommandWriter`` publishing its outcomes to real Kafka; only ``apply`` is
the test's, recording when each command started and ended (with a random pause, so a lane that
ignored an order would show it)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from contracts.entities import CustomerSnapshot, EmployeeSnapshot
from contracts.envelope import (
    Command,
    EntityType,
    ExpectedLink,
    LinkState,
    Operation,
    Outcome,
    OutcomeStatus,
    SourceSystem,
)
from contracts.topics import TRIPLETEX_COMMANDS, TRIPLETEX_WRITER_CONSUMER, record_key
from services.core.batch_consumer import Received
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory
from services.core.topic_admin import ensure_topics
from services.core.writer import (
    CommandWriter,
    Lane,
    lane_dependencies,
    natural_keys,
    outcome_for,
    round_robin,
)

pytestmark = pytest.mark.integration


class RecordingWriter(CommandWriter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spans: dict[uuid.UUID, tuple[float, float]] = {}
        self.running = 0
        self.most_at_once = 0
        self.first_started: list[str] = []

    async def apply(self, command: Command) -> Outcome:
        started = time.monotonic()
        self.first_started.append(command.tenant_id)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(random.uniform(0.005, 0.04))
        self.running -= 1
        self.spans[command.command_id] = (started, time.monotonic())
        return outcome_for(command, OutcomeStatus.APPLIED, target_entity_id="x")


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[Publisher]:
    await ensure_topics(settings)
    async with Publisher(settings) as p:
        yield p


def writer(settings: Settings, publisher: Publisher, **limits: int) -> RecordingWriter:
    return RecordingWriter(
        tenants=StaticTenantDirectory(),
        broker=KafkaBroker(settings.kafka_bootstrap_servers),
        publisher=publisher,
        settings=settings.model_copy(update=limits),
        consumer=TRIPLETEX_WRITER_CONSUMER,
        topics=[TRIPLETEX_COMMANDS],
        adapter=TypeAdapter(Command),
    )


def command(tenant_id: str, entity_type: EntityType, entity_id: str, operation: Operation) -> Command:
    return Command(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=SourceSystem.DRIFTI
        if entity_type in (EntityType.INVOICE, EntityType.PAYMENT)
        else SourceSystem.SVENN,
        target=SourceSystem.TRIPLETEX,
        operation=operation,
        entity_type=entity_type,
        source_entity_id=entity_id,
        expected_link=ExpectedLink(state=LinkState.ABSENT),
        rule_id="S-TEST",
    )


def received(commands: list[Command]) -> list[Received[Command]]:
    return [
        Received(
            ConsumerRecord(
                TRIPLETEX_COMMANDS,
                0,
                offset,
                0,
                0,
                record_key(c.tenant_id, c.entity_type, c.source_entity_id),
                c.model_dump_json().encode(),
                None,
                0,
                0,
                (),
            ),
            c,
        )
        for offset, c in enumerate(commands)
    ]


def lane(
    tenant_id: str, entity_type: EntityType, entity_id: str, *natural: str, drifti: bool = False
) -> Lane:
    return Lane(tenant_id, record_key(tenant_id, entity_type, entity_id), entity_type, natural, drifti)


def test_lane_dependencies_keep_record_order_and_references() -> None:
    e = lane("a", EntityType.EMPLOYEE, "e1")
    b_project = lane("b", EntityType.PROJECT, "p9")
    deps = lane_dependencies(
        [
            e,
            lane("a", EntityType.CUSTOMER, "c1"),
            lane("b", EntityType.EMPLOYEE, "e9"),
            lane("a", EntityType.PROJECT, "p1"),
            lane("a", EntityType.INVOICE, "i1"),
            lane("a", EntityType.PAYMENT, "pay1"),
            e,
            lane("a", EntityType.PROJECT, "p1"),
            b_project,
        ]
    )
    assert deps == [
        (),  # 0 employee
        (),  # 1 customer: names nothing
        (),  # 2 tenant b: other tenants never wait for a
        (0, 1),  # 3 project: the employee (S-P8 members) and the customer before it
        (1, 3),  # 4 invoice: customer and project (Drifti vouchers)
        (1, 3, 4),  # 5 payment: customer, project, invoice
        (0,),  # 6 the same employee again: after its earlier command
        (0, 1, 3, 6),  # 7 the project again: its own earlier command and every earlier employee/customer
        (2,),  # 8 tenant b's project: only b's employee
    ]


def test_lane_dependencies_order_what_may_meet_one_record_on_the_other_side() -> None:
    deps = lane_dependencies(
        [
            lane("a", EntityType.CUSTOMER, "s-55", "customer:55"),  # Svenn customers 55 and 055 ...
            lane("a", EntityType.CUSTOMER, "s-056", "customer:56"),
            lane("a", EntityType.CUSTOMER, "s-055", "customer:55"),  # ... are one Tripletex customer
            lane("a", EntityType.INVOICE, "i1", drifti=True),  # invoices find or create their customer
            lane("a", EntityType.INVOICE, "i2", drifti=True),
            lane("b", EntityType.INVOICE, "i1", drifti=True),
        ]
    )
    assert deps == [(), (), (0,), (0, 1, 2), (0, 1, 2, 3), ()]


def test_natural_keys_are_the_numbers_and_e_mail_a_writer_matches_by() -> None:
    svenn_55 = command("a", EntityType.CUSTOMER, "s-1", Operation.CREATE).model_copy(
        update={"payload": CustomerSnapshot(name="N", customer_number="055")}
    )
    employee = command("a", EntityType.EMPLOYEE, "s-2", Operation.CREATE).model_copy(
        update={"payload": EmployeeSnapshot(first_name="Kari", last_name="N", email="Kari@Firma.no")}
    )
    assert natural_keys(svenn_55) == ("customer:55",)
    assert natural_keys(employee) == ("employee:kari@firma.no",)
    assert Lane.of(command("a", EntityType.PAYMENT, "p", Operation.CREATE)).drifti


def test_round_robin_interleaves_tenants_keeping_each_tenants_order() -> None:
    assert round_robin(["a", "a", "a", "b", "a", "c"]) == [0, 3, 5, 1, 2, 4]


async def test_lanes_run_concurrently_fair_and_in_the_order_the_rules_rely_on(
    settings: Settings, publisher: Publisher
) -> None:
    a, b = f"lanes-a-{uuid.uuid4().hex[:6]}", f"lanes-b-{uuid.uuid4().hex[:6]}"
    batch: list[Command] = []
    for n in range(6):  # tenant a: a backlog of employees, customers, projects, then vouchers
        batch.append(command(a, EntityType.EMPLOYEE, f"e{n}", Operation.CREATE))
        batch.append(command(a, EntityType.CUSTOMER, f"c{n}", Operation.CREATE))
    for n in range(6):
        batch.append(command(a, EntityType.PROJECT, f"p{n}", Operation.CREATE))
        batch.append(command(a, EntityType.PROJECT, f"p{n}", Operation.UPDATE))
    batch.append(command(a, EntityType.EMPLOYEE, "e0", Operation.UPDATE))
    for n in range(4):
        batch.append(command(a, EntityType.INVOICE, f"i{n}", Operation.CREATE))
        batch.append(command(a, EntityType.PAYMENT, f"pay{n}", Operation.CREATE))
    batch += [command(b, EntityType.CUSTOMER, f"c{n}", Operation.CREATE) for n in range(4)]  # after a's
    w = writer(settings, publisher, writer_concurrency=8, writer_tenant_concurrency=4)

    await w.handle_batch(received(batch))

    assert set(w.spans) == {c.command_id for c in batch}  # each written once
    deps = lane_dependencies([Lane.of(c) for c in batch])
    for index, earlier in enumerate(deps):
        for before in earlier:
            assert w.spans[batch[before].command_id][1] <= w.spans[batch[index].command_id][0], (
                f"{batch[index].entity_type} {batch[index].source_entity_id} started before "
                f"{batch[before].entity_type} {batch[before].source_entity_id} ended"
            )
    # The same record strictly in batch order; the rules' references before the records naming them.
    p0_create, p0_update = (w.spans[c.command_id] for c in batch if c.source_entity_id == "p0")
    assert p0_create[1] <= p0_update[0]
    last_employee = max(w.spans[c.command_id][1] for c in batch if c.entity_type is EntityType.EMPLOYEE
                        and c.operation is Operation.CREATE)  # fmt: skip
    assert all(
        w.spans[c.command_id][0] >= last_employee for c in batch if c.entity_type is EntityType.PROJECT
    )
    vouchers = [c for c in batch if c.entity_type in (EntityType.INVOICE, EntityType.PAYMENT)]
    for n, payment in enumerate(vouchers):
        if payment.entity_type is EntityType.PAYMENT:  # after every invoice before it in the batch
            invoices = [w.spans[c.command_id][1] for c in vouchers[:n] if c.entity_type is EntityType.INVOICE]
            assert w.spans[payment.command_id][0] >= max(invoices)
    # Concurrent (the old writer did one after another), capped per tenant and overall ...
    assert 1 < w.most_at_once <= 8
    # ... and fair: tenant b, last in the batch, starts in the first round, not after a's 33 commands.
    assert b in w.first_started[:8]
    # Outcomes published, one per command, before the batch may commit.
    assert len(w._pending) == len(batch)
    await asyncio.gather(*w._pending)
