"""Who may open a tenant's panel: access tokens, of which only a SHA-256 hash is stored.

A token names its access row (``tsp_<access id>_<secret>``) so it can be revoked by id without
ever being shown again, and so a leaked database leaks no token. Tokens are long random
strings, so a plain SHA-256 (no slow hash) is enough: there is nothing to guess by brute force.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from pydantic import TypeAdapter

from contracts.envelope import TenantId

PREFIX = "tsp"
_TENANT: TypeAdapter[str] = TypeAdapter(TenantId)


@dataclass(frozen=True)
class Grant:
    access_id: str
    tenant_id: str
    token: str


@dataclass(frozen=True)
class Access:
    access_id: str
    tenant_id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


async def grant(
    connection: asyncpg.Connection | asyncpg.Pool, tenant_id: str, label: str | None = None
) -> Grant:
    """A new token for the tenant's panel; the caller shows it once (it cannot be read back)."""
    tenant_id = _TENANT.validate_python(tenant_id)
    access_id = secrets.token_hex(6)
    token = f"{PREFIX}_{access_id}_{secrets.token_urlsafe(32)}"
    await connection.execute(
        "INSERT INTO panel_access (access_id, tenant_id, token_hash, label) VALUES ($1, $2, $3, $4)",
        access_id,
        tenant_id,
        token_hash(token),
        label,
    )
    return Grant(access_id, tenant_id, token)


async def revoke(
    connection: asyncpg.Connection | asyncpg.Pool, tenant_id: str, access_id: str | None = None
) -> int:
    """Revoke one of the tenant's tokens (or all of them); returns how many were still active."""
    result: str = await connection.execute(
        """UPDATE panel_access SET revoked_at = now()
           WHERE tenant_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR access_id = $2)""",
        tenant_id,
        access_id,
    )
    return int(result.rsplit(" ", 1)[-1])


async def listed(connection: asyncpg.Connection | asyncpg.Pool, tenant_id: str) -> list[Access]:
    rows = await connection.fetch(
        """SELECT access_id, tenant_id, label, created_at, revoked_at FROM panel_access
           WHERE tenant_id = $1 ORDER BY created_at""",
        tenant_id,
    )
    return [Access(**dict(r)) for r in rows]


async def authenticate(connection: asyncpg.Connection | asyncpg.Pool, token: str) -> Access | None:
    """The active access a token belongs to, or ``None`` (unknown or revoked)."""
    row = await connection.fetchrow(
        """SELECT access_id, tenant_id, label, created_at, revoked_at FROM panel_access
           WHERE token_hash = $1 AND revoked_at IS NULL""",
        token_hash(token),
    )
    return Access(**dict(row)) if row else None


async def is_active(connection: asyncpg.Connection | asyncpg.Pool, access_id: str, tenant_id: str) -> bool:
    """Checked on every request, so revoking a token ends the sessions opened with it at once."""
    found = await connection.fetchval(
        "SELECT 1 FROM panel_access WHERE access_id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
        access_id,
        tenant_id,
    )
    return found is not None
