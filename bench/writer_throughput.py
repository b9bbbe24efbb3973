"""Throughput of the Tripletex writer: N tenants x M project creates against the Tripletex simulator
over HTTP, with an optional added API latency per request. Prints records/s.

Each create is what the decision sends for a new Svenn project (S-P4): the writer looks the project
up by number, creates it, and publishes its outcome. The commands are produced tenant after tenant
(a backlog each) once the writer has joined its group; the figure is from the first command
produced to the last outcome in Kafka. ``--concurrency 1 --tenant-concurrency 1`` is the writer
one command at a time (as before the lanes).

    .venv/bin/python bench/writer_throughput.py --tenants 4 --commands 50 --latency-ms 50

Uses the Kafka and PostgreSQL of ``make up`` (or KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from datetime import date

import httpx

# Run as a script, this folder is on the path: the decision benchmark's reader counts here too.
from decision_throughput import count_until  # type: ignore[import-not-found]

from contracts.entities import ProjectSnapshot
from contracts.envelope import Command, EntityType, ExpectedLink, LinkState, Operation, SourceSystem
from contracts.topics import SYNC_OUTCOMES, TRIPLETEX_COMMANDS, record_key
from services.core import kafka_security
from services.core.asgi_serving import serve_asgi
from services.core.logs import configure_logging
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig, TripletexAccess
from services.core.topic_admin import ensure_topics
from services.runtime import Role, Runtime
from services.tripletex.simulator.app import create_app
from services.tripletex.simulator.state import SimulatorState


def create_command(tenant_id: str, n: int) -> Command:
    return Command(
        tenant_id=tenant_id,
        correlation_id=uuid.uuid4(),
        command_id=uuid.uuid4(),
        source=SourceSystem.SVENN,
        target=SourceSystem.TRIPLETEX,
        operation=Operation.CREATE,
        entity_type=EntityType.PROJECT,
        source_entity_id=f"svenn-{n}",
        payload=ProjectSnapshot(number=f"B-{n}", name=f"Benk {n}", start_date=date(2026, 1, 5)),
        expected_link=ExpectedLink(state=LinkState.ABSENT),
        rule_id="S-P4",
    )


async def produce(settings: Settings, commands: list[Command]) -> None:
    producer = kafka_security.producer(settings, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(
                settings.topic(TRIPLETEX_COMMANDS),
                c.model_dump_json().encode(),
                key=record_key(c.tenant_id, c.entity_type, c.source_entity_id),
            )
            for c in commands
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def run(args: argparse.Namespace) -> float:
    limits = {}
    if args.concurrency:
        limits["writer_concurrency"] = args.concurrency
    if args.tenant_concurrency:
        limits["writer_tenant_concurrency"] = args.tenant_concurrency
    settings = Settings(
        topic_prefix=f"bench-w{uuid.uuid4().hex[:6]}.", topic_partitions=6, log_format="text", **limits
    )
    await ensure_topics(settings)
    state = SimulatorState()
    tenants = StaticTenantDirectory()
    async with serve_asgi(create_app(state), lifespan="off") as url, httpx.AsyncClient(base_url=url) as admin:
        for i in range(args.tenants):
            company = (await admin.post("/_sim/companies", json={"name": f"bench-{i}"})).json()
            faults = {"latencyMs": args.latency_ms, "rateLimit": 1_000_000}
            (await admin.put(f"/_sim/companies/{company['id']}/faults", json=faults)).raise_for_status()
            tenants.put(
                TenantConfig(
                    tenant_id=f"bench-{i}",
                    tripletex=TripletexAccess(
                        base_url=f"{url}/v2",
                        consumer_token=company["consumerToken"],
                        employee_token=company["employeeToken"],
                    ),
                )
            )
        commands = [
            create_command(f"bench-{i}", n) for i in range(args.tenants) for n in range(args.commands)
        ]
        runtime = Runtime(settings, [Role.TRIPLETEX_WRITER], tenants=tenants)
        await runtime.start()
        try:
            await asyncio.sleep(3)  # the group join is not counted
            started = time.perf_counter()
            await produce(settings, commands)
            finished = await asyncio.wait_for(
                count_until(settings, SYNC_OUTCOMES, len(commands)), timeout=args.timeout
            )
        finally:
            await runtime.stop()
        projects = sum(len(company.table("Project")) for company in state.companies.values())
        assert projects == len(commands), f"{projects} projects for {len(commands)} creates"
    return len(commands) / (finished - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--commands", type=int, default=50, help="project creates per tenant")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every Tripletex request")
    parser.add_argument("--concurrency", type=int, default=0, help="WRITER_CONCURRENCY (0: the setting's)")
    parser.add_argument("--tenant-concurrency", type=int, default=0, help="WRITER_TENANT_CONCURRENCY")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    configure_logging("WARNING", "text")
    logging.getLogger("tripletex_sync.kafka").setLevel(logging.WARNING)
    rate = asyncio.run(run(args))
    limits = f"{args.concurrency or 'default'}/{args.tenant_concurrency or 'default'}"
    print(
        f"writer: {args.tenants} tenants x {args.commands} creates, {args.latency_ms:g} ms added latency, "
        f"concurrency {limits}: {rate:,.1f} records/s"
    )


if __name__ == "__main__":
    main()
