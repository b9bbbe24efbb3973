"""``tsync demo``: a live two-way sync between Svenn and Tripletex, narrated step by step.

Runs a ``Sandbox`` (both simulators, the whole engine, webhooks both ways) against the
configured Kafka and PostgreSQL (``make demo`` starts the project's own), with a fresh tenant
each run, then acts as a user on one side and prints what the engine did and what the other
side now holds. Everything goes over real HTTP and real Kafka; nothing is scripted on the
engine's side, which is why each step *waits* for the other side instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import asyncpg

from contracts import headers
from contracts.error_codes import CATALOG, PROJECT_MISSING_START_DATE
from contracts.topics import DECISION_CONSUMER, TRIPLETEX_CHANGES, dead_letter_topic
from services.core import kafka_security
from services.core.logs import configure_logging
from services.core.settings import Settings
from services.core.tracing import configure_tracing
from services.demo_drifti import drifti_month
from services.sandbox import Sandbox, SandboxTenant

STEP_TIMEOUT = 20.0


class Narrator:
    """Prints each step and the engine outcomes recorded since the previous step."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.seen = 0

    def step(self, title: str) -> None:
        print(f"\n== {title}")

    async def engine(self) -> None:
        """The writers' outcomes since last time: which rule, what was done, and why.

        Waits for the engine to go quiet first (echoes included), so each step shows its own
        outcomes rather than the tail of the previous one.
        """
        await self.sandbox.settle(quiet=0.5)
        rows = await self.sandbox.outcomes()
        while True:
            await asyncio.sleep(0.5)
            again = await self.sandbox.outcomes()
            if len(again) == len(rows):
                break
            rows = again
        for row in rows[self.seen :]:
            print(
                f"   engine: {row['rule_id']:<5} {row['operation']:<8} -> {row['target']:<9}"
                f" {row['status']:<7} {row['reason'] or ''}{row['error_code'] or ''}"
            )
        self.seen = len(rows)


async def run_demo(settings: Settings) -> int:
    configure_logging("WARNING", "text")
    configure_tracing(settings.service_name)
    started = time.monotonic()
    async with Sandbox(settings, tenant_prefix="demo") as sandbox:
        t = sandbox.tenant
        print("engine running (ingest, decision, both writers, projections) on real Kafka and PostgreSQL")
        print(f"  engine     {sandbox.engine_url}  (webhooks from both sides)")
        print(f"  internal   {sandbox.internal_url}  (metrics; ingest API with a token)")
        print(f"  tripletex  {sandbox.tripletex_url}/v2  (simulator, company {t.company_id})")
        print(f"  svenn      {sandbox.svenn_url}/api/v1  (simulator)")
        print(f"tenant: {t.tenant_id}")
        say = Narrator(sandbox)
        await _project_from_svenn(sandbox, t, say)
        await _customer_from_tripletex(sandbox, t, say)
        await _missing_start_date(sandbox, t, say)
        await _rename_in_tripletex(sandbox, t, say)
        await _dead_letter(settings, t, say)
        await _tables(sandbox, say)
        await drifti_month(sandbox, say.step)
        print(f"\ndone in {time.monotonic() - started:.1f}s")
        print(
            "Not shown here: real Svenn/Tripletex/Drifti accounts (these are simulators), "
            "reconciliation after an outage, replays, and more than one process."
        )
    return 0


async def _project_from_svenn(sandbox: Sandbox, t: SandboxTenant, say: Narrator) -> None:
    say.step("(a) Svenn: a user creates project 2024.17 with a start date")
    project = await t.svenn.projects.create(
        {"display_id": "2024.17", "name": "Bathroom, Storgata 4", "start_date": "2026-11-02"}
    )
    print(f"   svenn: project {project.id} display_id={project.display_id} start_date={project.start_date}")
    found = await sandbox.wait_until(lambda: t.tripletex_project("2024.17"), STEP_TIMEOUT)
    await say.engine()
    print(
        f"   tripletex: project {found['id']} number={found['number']} name={found['name']!r}"
        f" startDate={found['startDate']}"
    )


async def _customer_from_tripletex(sandbox: Sandbox, t: SandboxTenant, say: Narrator) -> None:
    say.step("(b) Tripletex: a user creates customer 10042")
    body = {"name": "Nordmann Bygg AS", "customerNumber": 10042, "email": "post@nordmann.no"}
    created = (await t.tripletex_api("POST", "/customer", body))["value"]
    print(f"   tripletex: customer {created['id']} customerNumber={created['customerNumber']}")
    customer = await sandbox.wait_until(lambda: t.svenn.customers.find_by_number("10042"), STEP_TIMEOUT)
    await say.engine()
    print(
        f"   svenn: customer {customer.id} customer_number={customer.customer_number} name={customer.name!r}"
    )


async def _missing_start_date(sandbox: Sandbox, t: SandboxTenant, say: Narrator) -> None:
    say.step("(c) Svenn: a user creates project 2024.18 without a start date")
    project = await t.svenn.projects.create({"display_id": "2024.18", "name": "Garage, no start date yet"})
    print(f"   svenn: project {project.id} display_id=2024.18 start_date=None")

    async def open_entry() -> asyncpg.Record | None:
        rows = await sandbox.errors(open_only=True)
        return next((r for r in rows if r["entity_id"] == project.id), None)

    entry = await sandbox.wait_until(open_entry, STEP_TIMEOUT)
    code = CATALOG[entry["error_code"]]
    print(f"   error log: {entry['error_code']} ({entry['rule_id']}) on svenn project {project.id}")
    print(f"      no: {code.message_no} {code.action_no}")
    print(f"      en: {code.message_en} {code.action_en}")
    assert entry["error_code"] == PROJECT_MISSING_START_DATE
    print("   tripletex: no project 2024.18 (nothing was written)")

    print("   svenn: the user sets the start date to 2026-12-01")
    await t.svenn.projects.update(project.id, {"start_date": date(2026, 12, 1).isoformat()})

    async def resolved() -> asyncpg.Record | None:
        rows = await sandbox.errors()
        return next((r for r in rows if r["entity_id"] == project.id and r["resolved_at"]), None)

    await sandbox.wait_until(resolved, STEP_TIMEOUT)
    print("   error log: PROJECT_MISSING_START_DATE resolved")
    found = await sandbox.wait_until(lambda: t.tripletex_project("2024.18"), STEP_TIMEOUT)
    await say.engine()
    print(f"   tripletex: project {found['id']} number={found['number']} startDate={found['startDate']}")


async def _rename_in_tripletex(sandbox: Sandbox, t: SandboxTenant, say: Narrator) -> None:
    before = await sandbox.settle(quiet=1.5)
    say.step(f"(d) Tripletex: a user renames project 2024.17 (engine writes so far: {before})")
    project = await t.tripletex_project("2024.17")
    assert project is not None
    new_name = "Bathroom and hallway, Storgata 4"
    body = {"version": project["version"], "name": new_name}
    await t.tripletex_api("PUT", f"/project/{project['id']}", body)
    print(f"   tripletex: project {project['id']} name={new_name!r}")

    async def renamed() -> Any:
        match = await t.svenn.projects.find_top_level_by_display_id("2024.17")
        return match if match is not None and match.name == new_name else None

    svenn_project = await sandbox.wait_until(renamed, STEP_TIMEOUT)
    print(f"   svenn: project {svenn_project.id} name={svenn_project.name!r}")
    after = await sandbox.settle(quiet=3.0)
    await say.engine()
    print(f"   engine writes: {before} before, {after} after the rename; quiet for 3s since (no ping-pong)")


async def _dead_letter(settings: Settings, t: SandboxTenant, say: Narrator) -> None:
    say.step(f"(e) a malformed message on {TRIPLETEX_CHANGES}")
    dlq = settings.topic(dead_letter_topic(DECISION_CONSUMER))
    consumer = kafka_security.consumer(settings, dlq, group_id=None, auto_offset_reset="latest")
    await consumer.start()
    producer = kafka_security.producer(settings)
    await producer.start()
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            await consumer.seek_to_end()
            for tp in consumer.assignment():
                await consumer.position(tp)  # fix the start before anything is published
            await producer.send_and_wait(
                settings.topic(TRIPLETEX_CHANGES), b"{not json", key=t.tenant_id.encode()
            )
            print(f"   published raw bytes {b'{not json'!r} to {TRIPLETEX_CHANGES}")
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        if r.key == t.tenant_id.encode():
                            h = {k: v.decode() for k, v in r.headers if v is not None}
                            name = dlq.removeprefix(settings.topic_prefix)
                            print(f"   [{name}] dead letter: {h.get(headers.DLQ_REASON)}")
                            print("   the decision consumer went on with the next message")
                            return
    finally:
        await producer.stop()
        await consumer.stop()


async def _tables(sandbox: Sandbox, say: Narrator) -> None:
    say.step("link table (PostgreSQL)")
    for row in await sandbox.links():
        if row["system"] == "svenn":
            print(
                f"   {row['entity_type']:<9} svenn {row['entity_id']:<26} <-> tripletex {row['other_id']:<6}"
                f" {row['state']}"
            )
    say.step("error log (PostgreSQL)")
    for row in await sandbox.errors():
        state = f"resolved {row['resolved_at']:%H:%M:%S}" if row["resolved_at"] else "OPEN"
        print(
            f"   {row['error_code']:<28} {row['system']} {row['entity_type']} {row['entity_id']}"
            f"  x{row['occurrences']}  {state}"
        )
