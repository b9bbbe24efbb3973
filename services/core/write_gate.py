"""Whether a writer may write a command now: the seam through which a paused tenant's writes stop.

The writer base asks its gate before ``apply``. Without a gate (a ``TENANTS_FILE`` set-up)
every command is written. The tenant registry's gate (``services.tenants.parking``) parks a
paused tenant's commands in PostgreSQL, so nothing is lost and other tenants are not held up.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from contracts.envelope import Command, SourceSystem
from services.core.errors import TransientError


class Admission(StrEnum):
    WRITE = "write"
    # A parked command re-published by `tsync tenants resume`: write it, then tell the gate.
    WRITE_RELEASED = "write_released"
    # The tenant is paused: the command is kept for its resumption; no write now.
    PARKED = "parked"
    # A copy of a released command that is already written: nothing to do, no second outcome.
    DUPLICATE = "duplicate"


TENANT_PAUSED = "TENANT_PAUSED"


class SideUnreachable(TransientError):
    """A tenant's API did not answer a writer after the client's own retries (5xx, timeouts,
    connection errors, 429 beyond its budget): the side is down for that tenant, nothing is wrong
    with the command. A writer with a database parks the tenant's commands (``services.tenants.
    outages``) instead of retrying the batch; without one it is a ``TransientError`` like any other."""

    def __init__(self, side: SourceSystem, tenant_id: str, message: str) -> None:
        super().__init__(message)
        self.side = side
        self.tenant_id = tenant_id


class WriteGate(Protocol):
    async def admit(self, command: Command, record_key: bytes) -> Admission:
        """Decide, and for ``PARKED`` keep the command durably before returning."""
        ...

    async def written(self, command: Command) -> None:
        """A ``WRITE_RELEASED`` command has its outcome: it is not to be written again."""
        ...
