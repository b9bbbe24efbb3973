"""Fuzzing every message type the consumers read (issue 10, "Prove it"): a consumer never stops.

On real Kafka and PostgreSQL, the decision, both writers and the projections run (no ingest: the
messages are produced straight onto their topics, as a hostile producer on the cluster would).
Each hypothesis example is a batch of hostile messages for one consumer (``tests/fuzz_strategies.py``:
templates of change events, commands, outcomes and decisions with a few nodes damaged, bytes that
are not JSON, tombstones, hostile keys and headers), produced onto one partition of the consumer's
topic and followed by a good *sentinel* message on the same partition. Properties:

- the sentinel is handled (its decision, outcome or projection row appears): the partition goes on;
- every fuzzed message is on the consumer's dead-letter topic (``dlq.<consumer>.v1``, found by its
  source topic, partition and offset), or was handled: it passes the consumer's contract and its
  effect is there (a decision about it, an outcome of it, its projection row). A message the
  contract refuses must be dead-lettered.

The writers see tenants they do not know (an empty tenant directory), so every command is
answered with a failed outcome and nothing calls a side. ``FUZZ_EXAMPLES`` sets the number of
batches per consumer (README: Security).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, TypeAdapter, ValidationError

from contracts import headers
from contracts.envelope import ChangeEvent, Command, SideStatus
from contracts.topics import (
    DECISION_CONSUMER,
    DRIFTI_CHANGES,
    PROJECTIONS_CONSUMER,
    SVENN_CHANGES,
    SVENN_COMMANDS,
    SVENN_WRITER_CONSUMER,
    SYNC_DECISIONS,
    SYNC_OUTCOMES,
    TRIPLETEX_CHANGES,
    TRIPLETEX_COMMANDS,
    TRIPLETEX_WRITER_CONSUMER,
    dead_letter_topic,
    record_key,
)
from projections.consumer import ProjectedMessage
from services.core.asgi_serving import serve_asgi
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, SvennAccess, TenantConfig, TripletexAccess
from services.runtime import Role, Runtime
from services.svenn.simulator.app import create_app as create_svenn_app
from services.svenn.simulator.state import SimState as SvennSimState
from services.tripletex.simulator.app import create_app as create_tripletex_app
from services.tripletex.simulator.state import SimulatorState
from tests.fuzz_strategies import (
    CASES,
    FATES,
    change_events,
    commands,
    decisions,
    fuzz_examples,
    hostile,
    hostile_text,
    outcomes,
    side_statuses,
)

pytestmark = pytest.mark.integration

ROLES = (Role.DECISION, Role.TRIPLETEX_WRITER, Role.SVENN_WRITER, Role.PROJECTIONS)
TENANT = f"fz-{uuid.uuid4().hex[:10]}"
CONNECTED = f"fz-{uuid.uuid4().hex[:10]}"
PARTITIONS = 3
SENTINEL_WAIT_S = 60.0
tenants = st.one_of(
    st.just(TENANT), st.just(CONNECTED), st.just(CONNECTED), st.just("t-nobody"), hostile_text
)


class TopicTail:
    """Everything on one topic from its start, read on as it grows (one reader for the module)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = settings.topic(topic)
        self.records: list[ConsumerRecord] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None
        )
        self._partitions: list[TopicPartition] = []

    async def start(self) -> None:
        await self._consumer.start()
        for _ in range(200):
            found = self._consumer.partitions_for_topic(self.topic)
            if found:
                break
            await self._consumer._client.force_metadata_update()  # a topic made a moment ago
            await asyncio.sleep(0.05)
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(found or ())]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def catch_up(self) -> list[ConsumerRecord]:
        """Read to the topic's end as it is now; returns every record read so far."""
        ends = await self._consumer.end_offsets(self._partitions)
        async with asyncio.timeout(30):
            while [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]:
                for records in (await self._consumer.getmany(timeout_ms=200)).values():
                    self.records.extend(records)
        return self.records


@dataclass
class Engine:
    settings: Settings
    runtime: Runtime
    producer: AIOKafkaProducer
    db: asyncpg.Pool
    tails: dict[str, TopicTail] = field(default_factory=dict)

    async def tail(self, topic: str) -> list[ConsumerRecord]:
        return await self.tails[topic].catch_up()


@pytest.fixture(scope="module")
async def engine(settings: Settings) -> AsyncIterator[Engine]:
    settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}fuzz-kafka."})
    admin = httpx.AsyncClient(timeout=10)
    async with (
        serve_asgi(create_tripletex_app(SimulatorState())) as tripletex_url,
        serve_asgi(create_svenn_app(SvennSimState())) as svenn_url,
    ):
        # TENANT is connected nowhere (its commands fail at once); CONNECTED to both simulators, so
        # the writers' mapping and their calls meet what the fuzz puts in its commands.
        company = (await admin.post(f"{tripletex_url}/_sim/companies", json={"name": CONNECTED})).json()
        svenn = await admin.post(f"{svenn_url}/_sim/tenants", json={"name": CONNECTED})
        svenn.raise_for_status()
        connected = TenantConfig(
            tenant_id=CONNECTED,
            svenn=SvennAccess(base_url=svenn_url, api_key=SecretStr(svenn.json()["api_key"])),
            tripletex=TripletexAccess(
                base_url=f"{tripletex_url}/v2",
                consumer_token=SecretStr(company["consumerToken"]),
                employee_token=SecretStr(company["employeeToken"]),
            ),
        )
        runtime = Runtime(settings, ROLES, tenants=StaticTenantDirectory([connected]))
        await runtime.start()
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
        await producer.start()
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        found = Engine(settings, runtime, producer, pool)
        topics = [SYNC_DECISIONS, SYNC_OUTCOMES] + [
            dead_letter_topic(c)
            for c in (
                DECISION_CONSUMER,
                TRIPLETEX_WRITER_CONSUMER,
                SVENN_WRITER_CONSUMER,
                PROJECTIONS_CONSUMER,
            )
        ]
        for topic in topics:
            found.tails[topic] = TopicTail(settings, topic)
            await found.tails[topic].start()
        try:
            yield found
        finally:
            for tail in found.tails.values():
                await tail.stop()
            await pool.close()
            await producer.stop()
            await runtime.stop()
            await admin.aclose()


# --------------------------------------------------------------------------- what is produced
@dataclass(frozen=True)
class Fuzzed:
    value: bytes | None
    key: bytes | None  # None: the sentinel's key
    headers: tuple[tuple[str, bytes], ...]


hostile_headers = st.one_of(
    st.just(()),
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "traceparent",
                    "tracestate",
                    headers.MESSAGE_ID,
                    headers.TENANT,
                    "content-type",
                    "x-anything",
                ]
            ),
            st.one_of(
                st.binary(max_size=60),
                st.sampled_from(
                    [
                        b"00-" + b"f" * 32 + b"-" + b"f" * 16 + b"-01",
                        b"\xff\xfe",
                        "ø".encode(),
                        b"text/plain",
                        b"application/json",
                    ]
                ),
            ),
        ),
        max_size=3,
    ).map(tuple),
)
hostile_keys = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.binary(max_size=20),
    st.just(b""),
    st.just(f"{TENANT}|\x00|x".encode()),
)


def fuzzed(templates: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Fuzzed]:
    values: st.SearchStrategy[bytes | None] = st.one_of(
        *[hostile(templates)] * 8,
        st.none(),  # a tombstone (or a null value without a key)
        st.just(json.dumps({"pad": "x" * 1_000_000}).encode()),  # close to Kafka's 1 MiB
    )
    return st.builds(Fuzzed, values, hostile_keys, hostile_headers)


def batches(templates: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[Fuzzed]]:
    return st.lists(fuzzed(templates), min_size=10, max_size=40)


# --------------------------------------------------------------------------- sentinels
Sentinel = tuple[bytes, bytes, uuid.UUID]  # key, value, the id its evidence names


def _sentinel(message_type: str, id_field: str, entity_field: str, **fields: object) -> Sentinel:
    """A good message about a customer of its own, for ``TENANT``: its key, its bytes and its id."""
    entity = f"sentinel-{uuid.uuid4().hex[:8]}"
    message_id = uuid.uuid4()
    message = {
        "message_type": message_type,
        "tenant_id": TENANT,
        "correlation_id": str(uuid.uuid4()),
        id_field: str(message_id),
        "entity_type": "customer",
        entity_field: entity,
        "source": "svenn",
        **fields,
    }
    return record_key(TENANT, "customer", entity), json.dumps(message).encode(), message_id


def sentinel_change() -> Sentinel:
    when = datetime.now(UTC).isoformat()
    return _sentinel(
        "change_event", "event_id", "entity_id", change_kind="deleted", occurred_at=when, source_version="1"
    )


def sentinel_command(target: str) -> Sentinel:
    return _sentinel(
        "command",
        "command_id",
        "source_entity_id",
        source="svenn" if target == "tripletex" else "tripletex",
        target=target,
        operation="create",
        payload={"kind": "customer", "customer_number": "1", "name": "Sentinel AS"},
        expected_link={"state": "absent"},
        rule_id="S-C1",
    )


def sentinel_outcome() -> Sentinel:
    return _sentinel(
        "outcome",
        "outcome_id",
        "source_entity_id",
        command_id=str(uuid.uuid4()),
        target="tripletex",
        operation="create",
        status="failed",
        rule_id="S-C1",
        error_code="TENANT_NOT_CONNECTED",
    )


def sentinel_decision() -> Sentinel:
    return _sentinel(
        "decision",
        "decision_id",
        "entity_id",
        cause_event_id=str(uuid.uuid4()),
        rule_id="S-C5",
        verdict="skip",
        reason="sentinel",
    )


# --------------------------------------------------------------------------- handled?
async def decided(engine: Engine) -> set[uuid.UUID]:
    """Cause event ids of every decision published."""
    return {_field(r.value, "cause_event_id") for r in await engine.tail(SYNC_DECISIONS)} - {None}  # type: ignore[return-value]


async def answered(engine: Engine) -> set[uuid.UUID]:
    """Command ids of every outcome published."""
    return {_field(r.value, "command_id") for r in await engine.tail(SYNC_OUTCOMES)} - {None}  # type: ignore[return-value]


def _field(value: bytes | None, name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(json.loads(value or b"{}")[name])
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # what the fuzz put there
        return None


@dataclass(frozen=True)
class Target:
    consumer: str
    topic: str
    adapter: TypeAdapter[Any]
    message_id: Callable[[Any], uuid.UUID]  # of a decoded message: what its evidence names
    evidence: Callable[[Engine], Any]  # -> set of ids handled
    sentinel: Callable[[], Sentinel]


async def projected_ids(engine: Engine, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    rows = await engine.db.fetch(
        "SELECT outcome_id AS id FROM sync_outcome WHERE outcome_id = ANY($1::uuid[]) "
        "UNION ALL SELECT decision_id FROM decision_log WHERE decision_id = ANY($1::uuid[])",
        list(ids),
    )
    return {r["id"] for r in rows}


async def run_batch(engine: Engine, target: Target, batch: list[Fuzzed], partition: int) -> None:
    """Produce ``batch`` and a sentinel on one partition; check the sentinel and every message's fate."""
    key, sentinel, sentinel_id = target.sentinel()
    topic = engine.settings.topic(target.topic)
    sends = [
        await engine.producer.send(
            topic, f.value, key=key if f.key is None else f.key, headers=list(f.headers), partition=partition
        )
        for f in batch
    ]
    sends.append(await engine.producer.send(topic, sentinel, key=key, partition=partition))
    placed = [await s for s in sends]
    name = f"kafka {target.consumer} <- {target.topic}"
    CASES[name] += len(batch)

    # The partition goes on: the sentinel behind the fuzzed messages is handled.
    async def sentinel_handled() -> bool:
        if target.evidence is projected_ids:
            return sentinel_id in await projected_ids(engine, {sentinel_id})
        return sentinel_id in await target.evidence(engine)

    async with asyncio.timeout(SENTINEL_WAIT_S):
        while not await sentinel_handled():  # noqa: ASYNC110 (a state seen by looking)
            await asyncio.sleep(0.1)

    # Each fuzzed message: dead-lettered, or it passed the contract and was handled.
    dead = {
        (
            h.get(headers.DLQ_SOURCE_TOPIC),
            h.get(headers.DLQ_SOURCE_PARTITION),
            h.get(headers.DLQ_SOURCE_OFFSET),
        )
        for r in await engine.tail(dead_letter_topic(target.consumer))
        for h in [{k: v.decode() for k, v in r.headers}]
    }
    decoded: dict[int, uuid.UUID] = {}
    side_status_ids: set[uuid.UUID] = set()
    for index, f in enumerate(batch):
        with contextlib.suppress(ValidationError):
            message = target.adapter.validate_json(f.value or b"")
            decoded[index] = target.message_id(message)
            if isinstance(message, SideStatus):
                side_status_ids.add(decoded[index])
    wanted = set(decoded.values())
    if target.evidence is projected_ids:
        handled = await projected_ids(engine, wanted)
    else:
        handled = await target.evidence(engine) & wanted
    for index, (f, meta) in enumerate(zip(batch, placed, strict=False)):
        where = (topic, str(meta.partition), str(meta.offset))
        if where in dead:
            FATES[(name, "dead-lettered")] += 1
            continue
        if f.value is None and (key if f.key is None else f.key):
            FATES[(name, "tombstone passed over")] += 1
            continue  # a tombstone asks for nothing
        assert index in decoded, f"not dead-lettered though the contract refuses it: {f!r:.600}"
        if decoded[index] in side_status_ids:
            FATES[(name, "side status projected")] += 1
            continue  # its row is one per tenant and side, not per message: its position passed it

        assert decoded[index] in handled, f"neither dead-lettered nor handled: {f!r:.600}"
        FATES[(name, "handled")] += 1


def _projected_id(m: Any) -> uuid.UUID:
    """An outcome's or a decision's id (what its projection row is keyed by)."""
    found: uuid.UUID = m.message_id
    return found


def _decision_id(m: ChangeEvent) -> uuid.UUID:
    return m.event_id


TARGETS = {
    "decision-svenn": Target(
        DECISION_CONSUMER, SVENN_CHANGES, TypeAdapter(ChangeEvent), _decision_id, decided, sentinel_change
    ),
    "decision-tripletex": Target(
        DECISION_CONSUMER, TRIPLETEX_CHANGES, TypeAdapter(ChangeEvent), _decision_id, decided, sentinel_change
    ),
    "decision-drifti": Target(
        DECISION_CONSUMER, DRIFTI_CHANGES, TypeAdapter(ChangeEvent), _decision_id, decided, sentinel_change
    ),
    "tripletex-writer": Target(
        TRIPLETEX_WRITER_CONSUMER,
        TRIPLETEX_COMMANDS,
        TypeAdapter(Command),
        lambda m: m.command_id,
        answered,
        lambda: sentinel_command("tripletex"),
    ),
    "svenn-writer": Target(
        SVENN_WRITER_CONSUMER,
        SVENN_COMMANDS,
        TypeAdapter(Command),
        lambda m: m.command_id,
        answered,
        lambda: sentinel_command("svenn"),
    ),
    "projections-outcomes": Target(
        PROJECTIONS_CONSUMER,
        SYNC_OUTCOMES,
        TypeAdapter(ProjectedMessage),
        _projected_id,
        projected_ids,
        sentinel_outcome,
    ),
    "projections-decisions": Target(
        PROJECTIONS_CONSUMER,
        SYNC_DECISIONS,
        TypeAdapter(ProjectedMessage),
        _projected_id,
        projected_ids,
        sentinel_decision,
    ),
}

# A failing batch is printed whole; shrinking it would replay the broker round trip many times.
KAFKA = settings(
    max_examples=fuzz_examples(6),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@KAFKA
@given(
    batch=batches(change_events(tenants)), partition=st.integers(0, PARTITIONS - 1), side=st.integers(0, 2)
)
async def test_decision_consumer_fuzz(engine: Engine, batch: list[Fuzzed], partition: int, side: int) -> None:
    target = ("decision-svenn", "decision-tripletex", "decision-drifti")[side]
    await run_batch(engine, TARGETS[target], batch, partition)


@KAFKA
@given(batch=batches(commands(tenants, "tripletex")), partition=st.integers(0, PARTITIONS - 1))
async def test_tripletex_writer_fuzz(engine: Engine, batch: list[Fuzzed], partition: int) -> None:
    await run_batch(engine, TARGETS["tripletex-writer"], batch, partition)


@KAFKA
@given(batch=batches(commands(tenants, "svenn")), partition=st.integers(0, PARTITIONS - 1))
async def test_svenn_writer_fuzz(engine: Engine, batch: list[Fuzzed], partition: int) -> None:
    await run_batch(engine, TARGETS["svenn-writer"], batch, partition)


@KAFKA
@given(
    batch=batches(st.one_of(outcomes(tenants), outcomes(tenants), side_statuses(tenants))),
    partition=st.integers(0, PARTITIONS - 1),
)
async def test_projections_outcomes_fuzz(engine: Engine, batch: list[Fuzzed], partition: int) -> None:
    await run_batch(engine, TARGETS["projections-outcomes"], batch, partition)


@KAFKA
@given(batch=batches(decisions(tenants)), partition=st.integers(0, PARTITIONS - 1))
async def test_projections_decisions_fuzz(engine: Engine, batch: list[Fuzzed], partition: int) -> None:
    await run_batch(engine, TARGETS["projections-decisions"], batch, partition)


@pytest.mark.parametrize("size", [1_046_000])
async def test_a_malformed_message_close_to_the_size_limit_is_dead_lettered(
    engine: Engine, size: int
) -> None:
    """Its dead letter (the value plus the reason in headers) is larger than the message was."""
    value = json.dumps({"pad": "x" * size}).encode()
    batch = [Fuzzed(value, None, ()), Fuzzed(value, None, (("content-type", b"application/json"),))]
    await run_batch(engine, TARGETS["decision-svenn"], batch, 0)


KNOWN_HOSTILE = [
    # FastStream decoded every header as UTF-8 and acted on content-type before any handler ran: each of
    # these failed its whole batch, read again forever (the partition stopped for every tenant on it).
    Fuzzed(b"{}", None, (("x-anything", b"\xff\xfe"),)),
    Fuzzed(b"{}", None, (("traceparent", b"\xc3"),)),
    Fuzzed(b"\xff\xfe not text", None, (("content-type", b"text/plain"),)),
    Fuzzed(b"{not json", None, (("content-type", b"application/json"),)),
    Fuzzed(b"[" * 5000 + b"]" * 5000, None, ()),
]


@pytest.mark.parametrize("target", ["decision-svenn", "tripletex-writer", "projections-outcomes"])
async def test_known_hostile_messages_do_not_stop_a_consumer(engine: Engine, target: str) -> None:
    await run_batch(engine, TARGETS[target], KNOWN_HOSTILE, 1)
