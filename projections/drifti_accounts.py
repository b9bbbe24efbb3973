"""The Drifti → Tripletex account mapping (D-L1, migration 0006): read per batch by the decision,
written by the automatic match and by operators."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import asyncpg

Origin = Literal["auto", "operator"]

_PUT = """
INSERT INTO drifti_account_map (tenant_id, drifti_account, tripletex_account, origin, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (tenant_id, drifti_account) DO UPDATE
SET tripletex_account = EXCLUDED.tripletex_account, origin = EXCLUDED.origin, updated_at = now()
WHERE EXCLUDED.origin = 'operator' OR drifti_account_map.origin = 'auto'
"""


async def load(
    connection: asyncpg.Connection | asyncpg.Pool, tenant_ids: Iterable[str]
) -> dict[tuple[str, str], str]:
    """(tenant, Drifti account) -> Tripletex account for these tenants, in one query."""
    tenants = sorted(set(tenant_ids))
    if not tenants:
        return {}
    rows = await connection.fetch(
        "SELECT tenant_id, drifti_account, tripletex_account FROM drifti_account_map "
        "WHERE tenant_id = ANY($1::text[])",
        tenants,
    )
    return {(r["tenant_id"], r["drifti_account"]): r["tripletex_account"] for r in rows}


async def put(
    connection: asyncpg.Connection | asyncpg.Pool,
    tenant_id: str,
    mapping: Mapping[str, str],
    origin: Origin,
) -> None:
    """Map Drifti accounts to Tripletex ones; an automatic match never replaces an operator's."""
    for tripletex in mapping.values():
        if not (tripletex.isascii() and tripletex.isdigit()):
            raise ValueError(f"Tripletex account {tripletex!r} is not an account number")
    await connection.executemany(_PUT, [(tenant_id, d, t, origin) for d, t in sorted(mapping.items())])
