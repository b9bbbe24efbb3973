"""The Drifti → Tripletex chart-of-accounts mapping (D-L1), as operators and onboarding change it.

Two ways in: :func:`match_accounts` maps every Drifti account whose number exists in the
tenant's Tripletex chart to that account ('auto'); :func:`map_account` records an operator's
choice ('operator', never overwritten by a later automatic match). Mapping an account
re-publishes the change of every invoice the error log holds open for an unmapped account, so
the decision looks at it again and, now mapped, it transfers (with a new but deterministic event
id, so running the same command twice publishes the same events twice and books nothing twice).
"""

from __future__ import annotations

import asyncpg

from contracts.error_codes import DRIFTI_ACCOUNT_UNMAPPED
from projections import drifti_accounts
from services.core.publisher import Publisher
from services.drifti.client import DriftiNotFoundError
from services.drifti.ingest import DriftiReader, event_of, publish_events
from services.tripletex.client import TripletexClient


class UnknownTripletexAccount(ValueError):
    pass


async def match_accounts(
    pool: asyncpg.Pool, tenant_id: str, reader: DriftiReader, tx: TripletexClient
) -> dict[str, str]:
    """Map Drifti accounts to the Tripletex accounts with the same number; returns the new mappings.

    Accounts already mapped (automatically or by an operator) are left as they are.
    """
    drifti = {a.number for a in await reader.client.ledger_accounts.list_all()}
    tripletex = {str(a.number) async for a in tx.ledger.iterate_accounts() if a.number is not None}
    known = await drifti_accounts.load(pool, [tenant_id])
    matched = {n: n for n in sorted(drifti & tripletex) if (tenant_id, n) not in known}
    if matched:
        await drifti_accounts.put(pool, tenant_id, matched, "auto")
    return matched


async def map_account(
    pool: asyncpg.Pool,
    publisher: Publisher,
    tenant_id: str,
    reader: DriftiReader,
    drifti_account: str,
    tripletex_account: str,
    tx: TripletexClient | None = None,
) -> int:
    """Record an operator's mapping and re-decide the invoices waiting for one; returns how many."""
    if not (tripletex_account.isascii() and tripletex_account.isdigit()):
        raise UnknownTripletexAccount(f"{tripletex_account!r} is not a Tripletex account number")
    if tx is not None and int(tripletex_account) not in await tx.ledger.accounts([int(tripletex_account)]):
        raise UnknownTripletexAccount(f"Tripletex has no account {tripletex_account}")
    await drifti_accounts.put(pool, tenant_id, {drifti_account: tripletex_account}, "operator")
    return await republish_waiting(
        pool, publisher, tenant_id, reader, f"map:{drifti_account}={tripletex_account}"
    )


async def republish_waiting(
    pool: asyncpg.Pool, publisher: Publisher, tenant_id: str, reader: DriftiReader, cause: str
) -> int:
    """Publish again the change of every invoice the error log holds open for an unmapped account.

    Read from Drifti as it is now, under a new event id derived from ``cause`` (deterministic:
    the same cause publishes the same events, which downstream recognises as repeats).
    """
    waiting = await pool.fetch(
        "SELECT entity_id FROM error_log WHERE tenant_id = $1 AND system = 'drifti' "
        "AND entity_type = 'invoice' AND error_code = $2 AND resolved_at IS NULL ORDER BY first_seen",
        tenant_id,
        DRIFTI_ACCOUNT_UNMAPPED,
    )
    events = []
    for row in waiting:
        try:
            invoice = await reader.client.invoices.get(row["entity_id"])
        except DriftiNotFoundError:
            continue
        events.append(await event_of(reader, tenant_id, invoice, version_suffix=f"+{cause}"))
    await publish_events(publisher, events)
    return len(events)
