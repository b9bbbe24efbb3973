"""A tenant whose side does not answer is parked, not retried with everyone (issue 16, S-X1).

When a writer's command fails with ``SideUnreachable`` (the tenant's Tripletex, Svenn or Drifti
gave 5xx, timeouts or 429s beyond the client's own retries), that command and every later command
of the tenant for this writer go to ``parked_command`` (reason ``unreachable``) in the order they
were consumed, and the batch goes on with the other tenants and commits. The outage is a row of
``side_outage`` (tenant, writer): ``open`` while the side is down.

A background task per writer (``run``) reads its open outages every ``tick`` and:

- **probes** each one's side (``WRITER_PROBE_INTERVAL_S``, doubling per failed probe up to
  16 times that): once it answers, the outage is ``releasing`` and its parked commands are
  re-published to the command topic in order, like ``tsync tenants resume``. The writer writes
  each once (``written`` marks it; a copy of one already written is a ``DUPLICATE``), and parks
  anything new of the tenant behind them; when every parked command is written, the outage ends.
  A released command that meets the side down again is parked again (its place kept) and the
  outage is ``open`` again.
- **reports** an outage older than ``API_UNREACHABLE_AFTER_S``: a ``SideStatus`` on
  ``sync.outcomes.v1`` opens one ``API_UNREACHABLE`` error-log entry for the tenant and side;
  the end of a reported outage publishes the one that resolves it.
- sets ``tsync_sides_unreachable`` (tenants with an open outage, per side).

Cheap on the hot path: the writer asks the database only about tenants this process knows to
have an outage (a set refreshed every tick); other tenants' commands cost nothing. Another
replica that has not seen the outage yet meets the side down itself and parks too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from contracts.envelope import Command, SideStatus, SourceSystem
from contracts.ids import side_status_id
from contracts.topics import COMMAND_TOPICS, SYNC_OUTCOMES, record_key
from projections.database import Database
from services.core import metrics
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import TenantDirectory, UnknownTenant
from services.core.write_gate import Admission, SideUnreachable
from services.tenants.parking import mark_written, parked_commands_available
from services.tenants.resume import publish_parked

log = logging.getLogger(__name__)

OPEN, RELEASING = "open", "releasing"
UNREACHABLE = "unreachable"  # parked_command.reason
PROBE_BACKOFF_CAP = 16  # the probe interval doubles per failed probe, up to this many times the setting
MAX_TICK_S = 1.0

Probe = Callable[[str, SourceSystem], Awaitable[None]]

# (tenant, side) with an open outage, per writer of this process: the gauge counts tenants per side
# over both writers (one process may run both).
_OPEN_SIDES: dict[SourceSystem, set[tuple[str, str]]] = {}

_PARK = """
INSERT INTO parked_command (tenant_id, command_id, topic, record_key, command, reason)
VALUES ($1, $2, $3, $4, $5::jsonb, 'unreachable')
ON CONFLICT (command_id) DO UPDATE SET reason = 'unreachable', released_at = NULL
WHERE parked_command.written_at IS NULL
"""

_OPEN_OUTAGE = """
INSERT INTO side_outage (tenant_id, target, side, last_error, next_probe_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
ON CONFLICT (tenant_id, target) DO UPDATE SET
    state = 'open', side = EXCLUDED.side, last_error = EXCLUDED.last_error,
    next_probe_at = CASE WHEN side_outage.state = 'open' THEN side_outage.next_probe_at
                         ELSE EXCLUDED.next_probe_at END
"""


class Outages:
    """One writer's parked tenants (``target``: the side it writes to)."""

    def __init__(
        self,
        database: Database,
        publisher: Publisher,
        settings: Settings,
        target: SourceSystem,
        tenants: TenantDirectory,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.settings = settings
        self.target = target
        self.tenants = tenants
        self.topic = COMMAND_TOPICS[target]
        self._tenants: set[str] = set()  # tenants with an outage of this writer, as last read
        self._parked_since_read: set[str] = set()  # ... and those this process parked meanwhile
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------- the writer's side
    async def admit(self, command: Command, key: bytes) -> Admission:
        """``WRITE`` (no outage), ``PARKED`` (kept behind the tenant's parked commands),
        ``WRITE_RELEASED`` (re-published by the probe: write it) or ``DUPLICATE`` (written already)."""
        if command.tenant_id not in self._tenants:
            return Admission.WRITE
        async with parked_commands_available():
            return await self._admit(command, key)

    async def _admit(self, command: Command, key: bytes) -> Admission:
        async with self.database.pool.acquire() as connection, connection.transaction():
            state = await connection.fetchval(
                "SELECT state FROM side_outage WHERE tenant_id = $1 AND target = $2 FOR SHARE",
                command.tenant_id,
                self.target.value,
            )
            if state is None:
                self._tenants.discard(command.tenant_id)  # it ended meanwhile
                return Admission.WRITE
            parked = await connection.fetchrow(
                "SELECT reason, released_at, written_at FROM parked_command WHERE command_id = $1",
                command.command_id,
            )
            if parked is not None and parked["written_at"] is not None:
                return Admission.DUPLICATE
            if (
                state == RELEASING
                and parked is not None
                and parked["reason"] == UNREACHABLE
                and parked["released_at"] is not None
            ):
                return Admission.WRITE_RELEASED
            await self._park(connection, command, key)
            return Admission.PARKED

    async def park_failed(self, command: Command, key: bytes, exc: SideUnreachable) -> None:
        """The side did not answer ``command``: open (or reopen) the outage and park the command."""
        async with (
            parked_commands_available(),
            self.database.pool.acquire() as connection,
            connection.transaction(),
        ):
            await connection.execute(
                _OPEN_OUTAGE,
                command.tenant_id,
                self.target.value,
                exc.side.value,
                str(exc)[:2000],
                self.settings.writer_probe_interval_s,
            )
            await self._park(connection, command, key)
        self._parked_since_read.add(command.tenant_id)
        if command.tenant_id not in self._tenants:
            self._tenants.add(command.tenant_id)
            log.warning(
                "side unreachable: parking the tenant's commands until it answers",
                extra={"tenant_id": command.tenant_id, "side": exc.side.value, "error": str(exc)},
            )

    async def written(self, command: Command) -> None:
        await mark_written(self.database, command)

    async def _park(self, connection: asyncpg.Connection, command: Command, key: bytes) -> None:
        await connection.execute(
            _PARK,
            command.tenant_id,
            command.command_id,
            self.topic,
            key or record_key(command.tenant_id, command.entity_type, command.source_entity_id),
            command.model_dump_json(),
        )

    # ------------------------------------------------------------------- the probe
    async def start(self, probe: Probe) -> None:
        if self._task is None:
            await self.refresh()
            self._task = asyncio.create_task(self.run(probe), name=f"{self.target.value}-outage-probe")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self, probe: Probe) -> None:
        tick = min(MAX_TICK_S, self.settings.writer_probe_interval_s)
        while True:
            try:
                await self.tick(probe)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or Kafka away: the next tick tries again
                log.warning(
                    "outage probe round failed", extra={"target": self.target.value, "error": repr(exc)}
                )
            await asyncio.sleep(tick)

    async def refresh(self) -> list[asyncpg.Record]:
        """This writer's outages of tenants this process serves (another deployment sharing the
        database, or a tenant since removed, is not ours to probe or release); sets the gauge."""
        self._parked_since_read = set()
        rows = await self.database.pool.fetch(
            """SELECT tenant_id, side, state, since, probes, next_probe_at <= now() AS due,
                      reported_at, now() - since >= make_interval(secs => $2) AS report_due
               FROM side_outage WHERE target = $1""",
            self.target.value,
            self.settings.api_unreachable_after_s,
        )
        ours = [r for r in rows if await self._serves(r["tenant_id"])]
        # A tenant parked while this read ran stays known: its next command must not slip past.
        self._tenants = {r["tenant_id"] for r in ours} | self._parked_since_read
        _OPEN_SIDES[self.target] = {(r["tenant_id"], r["side"]) for r in ours}
        for side in SourceSystem:
            tenants = {t for opened in _OPEN_SIDES.values() for t, s in opened if s == side.value}
            metrics.SIDES_UNREACHABLE.labels(side.value).set(len(tenants))
        return ours

    async def _serves(self, tenant_id: str) -> bool:
        try:
            await self.tenants.get(tenant_id)
        except UnknownTenant:
            return False
        return True

    async def tick(self, probe: Probe) -> None:
        """One round over this writer's outages (the background task calls it; so may a test)."""
        rows = await self.refresh()
        await asyncio.gather(*(self._round(probe, row) for row in rows))

    async def _round(self, probe: Probe, row: asyncpg.Record) -> None:
        """One outage's turn; tenants are probed side by side (a probe of a dead API takes its retries)."""
        tenant_id, side = row["tenant_id"], SourceSystem(row["side"])
        if row["state"] == OPEN:
            if row["report_due"] and row["reported_at"] is None:
                await self._report(tenant_id, side, row["since"], reachable=False)
            if row["due"]:
                await self._probe(probe, tenant_id, side, row["probes"])
        else:
            await self._settle(tenant_id, side)

    async def _probe(self, probe: Probe, tenant_id: str, side: SourceSystem, probes: int) -> None:
        started = time.monotonic()
        try:
            await probe(tenant_id, side)
        except Exception as exc:
            delay = self.settings.writer_probe_interval_s * min(PROBE_BACKOFF_CAP, 2 ** (probes + 1))
            await self.database.pool.execute(
                """UPDATE side_outage SET probes = probes + 1, last_error = $3,
                       next_probe_at = now() + make_interval(secs => $4)
                   WHERE tenant_id = $1 AND target = $2 AND state = 'open'""",
                tenant_id,
                self.target.value,
                f"probe: {exc}"[:2000],
                delay,
            )
            return
        log.info(
            "side answers again: releasing the tenant's parked commands",
            extra={
                "tenant_id": tenant_id,
                "side": side.value,
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        async with self.database.pool.acquire() as connection, connection.transaction():
            released = await connection.fetchval(
                """UPDATE side_outage SET state = 'releasing'
                   WHERE tenant_id = $1 AND target = $2 AND state = 'open' RETURNING 1""",
                tenant_id,
                self.target.value,
            )
        if released:
            await self._release(tenant_id, only_new=False)
            await self._settle(tenant_id, side)

    async def _release(self, tenant_id: str, *, only_new: bool) -> int:
        async with self.database.pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """UPDATE parked_command SET released_at = now()
                   WHERE tenant_id = $1 AND topic = $2 AND reason = 'unreachable' AND written_at IS NULL
                     AND (released_at IS NULL OR NOT $3)
                   RETURNING seq, topic, record_key, command::text AS command""",
                tenant_id,
                self.topic,
                only_new,
            )
        return await publish_parked(self.publisher, tenant_id, rows)

    async def _settle(self, tenant_id: str, side: SourceSystem) -> None:
        """A releasing outage: release what was parked behind, or end it once everything is written."""
        async with self.database.pool.acquire() as connection, connection.transaction():
            outage = await connection.fetchrow(
                """SELECT state, since, reported_at FROM side_outage
                   WHERE tenant_id = $1 AND target = $2 FOR UPDATE""",
                tenant_id,
                self.target.value,
            )
            if outage is None or outage["state"] != RELEASING:
                return
            counts = await connection.fetchrow(
                """SELECT count(*) FILTER (WHERE released_at IS NULL) AS unreleased,
                          count(*) FILTER (WHERE written_at IS NULL) AS unwritten
                   FROM parked_command WHERE tenant_id = $1 AND topic = $2 AND reason = 'unreachable'""",
                tenant_id,
                self.topic,
            )
            assert counts is not None
            if counts["unwritten"] == 0:
                await connection.execute(
                    """DELETE FROM parked_command
                       WHERE tenant_id = $1 AND topic = $2 AND reason = 'unreachable'""",
                    tenant_id,
                    self.topic,
                )
                await connection.execute(
                    "DELETE FROM side_outage WHERE tenant_id = $1 AND target = $2",
                    tenant_id,
                    self.target.value,
                )
        if outage is None or outage["state"] != RELEASING:
            return
        if counts["unwritten"] == 0:
            self._tenants.discard(tenant_id)
            log.info("outage over: every parked command written", extra={"tenant_id": tenant_id})
            if outage["reported_at"] is not None:
                await self._report(tenant_id, side, outage["since"], reachable=True)
        elif counts["unreleased"]:
            await self._release(tenant_id, only_new=True)

    async def _report(self, tenant_id: str, side: SourceSystem, since: datetime, *, reachable: bool) -> None:
        """Publish the ``SideStatus`` that opens (or resolves) the tenant's ``API_UNREACHABLE`` entry."""
        minutes = max(1, round((datetime.now(since.tzinfo) - since) / timedelta(minutes=1)))
        detail = (
            f"{side.value} answers again; the {self.target.value} writes that waited are written"
            if reachable
            else f"{side.value} has not answered for {minutes} min (since {since:%Y-%m-%d %H:%M} UTC); "
            f"the tenant's {self.target.value} writes are kept and written in order once it answers"
        )
        status = SideStatus(
            tenant_id=tenant_id,
            correlation_id=side_status_id(tenant_id, self.target.value, side.value, since, False),
            status_id=side_status_id(tenant_id, self.target.value, side.value, since, reachable),
            target=self.target,
            side=side,
            reachable=reachable,
            since=since,
            detail=detail,
        )
        key = record_key(tenant_id, "connection", side.value)
        await (await self.publisher.send(SYNC_OUTCOMES, key, status))
        if not reachable:
            await self.database.pool.execute(
                "UPDATE side_outage SET reported_at = now() WHERE tenant_id = $1 AND target = $2",
                tenant_id,
                self.target.value,
            )
        log.warning(
            "API_UNREACHABLE resolved" if reachable else "API_UNREACHABLE reported",
            extra={"tenant_id": tenant_id, "side": side.value},
        )
