"""The registry's write gate: a paused tenant's commands are parked in ``parked_command``.

Fast path: the cached directory says the tenant is active, so the command is written with no
database round trip. Only for a tenant the directory shows paused (or resuming) does the gate
read the tenant's row, under a share lock so it cannot interleave with the end of a resume:

- ``active`` (just resumed; the cache is behind): write;
- ``paused``: park the command (once: ``command_id`` is unique) and report it held;
- ``resuming``: a command that ``tsync tenants resume`` released is written; one already
  written is a duplicate; anything else is parked behind the released ones, keeping order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from contracts.envelope import Command
from contracts.topics import COMMAND_TOPICS
from projections.database import UNAVAILABLE_ERRORS, Database
from services.core.errors import TransientError
from services.core.tenants import TenantDirectory, UnknownTenant
from services.core.write_gate import Admission
from services.tenants.registry import ACTIVE, RESUMING

_PARK = """
INSERT INTO parked_command (tenant_id, command_id, topic, record_key, command)
VALUES ($1, $2, $3, $4, $5::jsonb)
ON CONFLICT (command_id) DO UPDATE SET reason = 'paused', released_at = NULL
WHERE parked_command.written_at IS NULL
"""
# A command parked because its side did not answer (``services.tenants.outages``) and then met by
# a pause waits for the resume: the pause's parking takes it over (its place in the order kept).


class PostgresWriteGate:
    def __init__(self, database: Database, tenants: TenantDirectory) -> None:
        self.database = database
        self.tenants = tenants

    async def admit(self, command: Command, record_key: bytes) -> Admission:
        try:
            tenant = await self.tenants.get(command.tenant_id)
        except UnknownTenant:
            return Admission.WRITE  # the writer reports the tenant as not connected
        if not tenant.paused:
            return Admission.WRITE
        async with parked_commands_available():
            return await self._admit_held(command, record_key)

    async def _admit_held(self, command: Command, record_key: bytes) -> Admission:
        async with self.database.pool.acquire() as connection, connection.transaction():
            state = await connection.fetchval(
                "SELECT state FROM tenant WHERE tenant_id = $1 FOR SHARE", command.tenant_id
            )
            if state is None or state == ACTIVE:
                return Admission.WRITE
            parked = await connection.fetchrow(
                "SELECT released_at, written_at FROM parked_command WHERE command_id = $1",
                command.command_id,
            )
            if parked is not None and parked["written_at"] is not None:
                return Admission.DUPLICATE
            if state == RESUMING and parked is not None and parked["released_at"] is not None:
                return Admission.WRITE_RELEASED
            await connection.execute(
                _PARK,
                command.tenant_id,
                command.command_id,
                COMMAND_TOPICS[command.target],
                record_key,
                command.model_dump_json(),
            )
            return Admission.PARKED

    async def written(self, command: Command) -> None:
        await mark_written(self.database, command)


@asynccontextmanager
async def parked_commands_available() -> AsyncIterator[None]:
    """Neither park nor write while the database is away: the batch is read again."""
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        raise TransientError(f"parked commands unavailable: {exc}") from exc


async def mark_written(database: Database, command: Command) -> None:
    """A released parked command has its outcome in Kafka: a copy of it is a ``DUPLICATE`` from now on.
    While the database is away it is retried with the batch (written again, idempotent, marked then)."""
    async with parked_commands_available():
        await database.pool.execute(
            "UPDATE parked_command SET written_at = now() WHERE command_id = $1", command.command_id
        )


def gate_for(tenants: TenantDirectory) -> PostgresWriteGate | None:
    """Writers park paused tenants' commands when the tenants come from the registry; else no gate."""
    from services.tenants.directory import PostgresTenantDirectory

    if isinstance(tenants, PostgresTenantDirectory):
        return PostgresWriteGate(tenants.database, tenants)
    return None
