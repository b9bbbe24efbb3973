"""Resuming a paused tenant: its parked commands go back to their command topic, in order.

The tenant is ``resuming`` meanwhile: writers write the released commands and park anything
new behind them, so a record's commands keep their order. Once every parked command is
written the tenant is ``active`` again and its parked rows are gone. If the writers do not
get through them in time (not running, a long queue), the tenant stays ``resuming`` and
nothing is lost; resuming again re-publishes what is not written yet (a copy of one that is
written meanwhile is recognised and dropped by the writer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from contracts.envelope import Command
from services.core import tracing
from services.core.publisher import Publisher
from services.core.tenants import UnknownTenant
from services.tenants.registry import ACTIVE, PAUSED, RESUMING

RESUME_CONSUMER = "tenants-resume"
# Resume releases what the pause parked; commands parked because a side does not answer are the
# writers' own (``services.tenants.outages``) and wait for that side.
_PAUSED = "reason = 'paused'"


@dataclass(frozen=True)
class ResumeReport:
    tenant_id: str
    state: (
        str  # active: done; resuming: `waiting` released commands are not written yet; paused: paused again
    )
    released: int
    waiting: int


async def resume(
    pool: asyncpg.Pool,
    publisher: Publisher,
    tenant_id: str,
    *,
    wait_s: float = 60.0,
    settle_s: float = 0.0,
    poll_s: float = 0.1,
) -> ResumeReport:
    """``settle_s``: how long processes may take to learn of a pause (``TENANT_CACHE_TTL_S``).

    A writer that has not seen the pause yet would write a released command without recording
    it as written; so a pause younger than that is waited out first.
    """
    age = await pool.fetchval(
        f"""SELECT extract(epoch FROM now() - updated_at) FROM tenant
            WHERE tenant_id = $1 AND state = '{PAUSED}'""",
        tenant_id,
    )
    if age is not None and float(age) < settle_s:
        await asyncio.sleep(settle_s - float(age))
    state = await pool.fetchval(
        f"""UPDATE tenant SET state = CASE WHEN state = '{ACTIVE}' THEN '{ACTIVE}' ELSE '{RESUMING}' END,
                revision = revision + 1, updated_at = now()
            WHERE tenant_id = $1 RETURNING state""",
        tenant_id,
    )
    if state is None:
        raise UnknownTenant(tenant_id)
    deadline = time.monotonic() + wait_s
    released = 0
    # The first round also re-sends what an earlier, interrupted resume released but was never written.
    only_new = False
    while True:
        released += await _release(pool, publisher, tenant_id, only_new=only_new)
        only_new = True
        async with pool.acquire() as connection, connection.transaction():
            # The lock waits for writers parking a command right now (they hold a share lock).
            state = await connection.fetchval(
                "SELECT state FROM tenant WHERE tenant_id = $1 FOR UPDATE", tenant_id
            )
            if state == PAUSED:  # paused again meanwhile: the rest waits for the next resume
                return ResumeReport(tenant_id, PAUSED, released, 0)
            counts = await connection.fetchrow(
                f"""SELECT count(*) FILTER (WHERE released_at IS NULL) AS unreleased,
                          count(*) FILTER (WHERE written_at IS NULL) AS unwritten
                   FROM parked_command WHERE tenant_id = $1 AND {_PAUSED}""",
                tenant_id,
            )
            assert counts is not None
            if counts["unwritten"] == 0:
                await connection.execute(
                    f"DELETE FROM parked_command WHERE tenant_id = $1 AND {_PAUSED}", tenant_id
                )
                if state != ACTIVE:
                    await connection.execute(
                        f"""UPDATE tenant SET state = '{ACTIVE}', revision = revision + 1, updated_at = now()
                            WHERE tenant_id = $1""",
                        tenant_id,
                    )
                return ResumeReport(tenant_id, ACTIVE, released, 0)
        if counts["unreleased"]:
            continue
        if time.monotonic() >= deadline:
            return ResumeReport(tenant_id, RESUMING, released, counts["unwritten"])
        await asyncio.sleep(poll_s)


async def _release(pool: asyncpg.Pool, publisher: Publisher, tenant_id: str, *, only_new: bool) -> int:
    """Mark the parked commands released, then publish them in the order they were parked."""
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            f"""UPDATE parked_command SET released_at = now()
               WHERE tenant_id = $1 AND {_PAUSED} AND written_at IS NULL AND (released_at IS NULL OR NOT $2)
               RETURNING seq, topic, record_key, command::text AS command""",
            tenant_id,
            only_new,
        )
    return await publish_parked(publisher, tenant_id, rows)


async def publish_parked(publisher: Publisher, tenant_id: str, rows: Sequence[asyncpg.Record]) -> int:
    """Re-publish released ``parked_command`` rows to their topic in the order they were parked, each in
    its own trace; returns once Kafka has them all. Shared by resume and the end of an outage."""
    sent = []
    for row in sorted(rows, key=lambda r: r["seq"]):
        command = Command.model_validate_json(row["command"])
        parent = tracing.context_from(None, command.trace)  # the re-published command stays in its trace
        with tracing.consume_span(row["topic"], RESUME_CONSUMER, parent, {"tsync.tenant_id": tenant_id}):
            sent.append(await publisher.send(row["topic"], bytes(row["record_key"]), command))
    await asyncio.gather(*sent)
    return len(rows)
