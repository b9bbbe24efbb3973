"""``tsync drifti …``: operator commands for the Drifti → Tripletex transfer (D-L1)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer

from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, TenantConfig
from services.drifti.accounts import UnknownTripletexAccount, map_account, match_accounts
from services.drifti.client import DriftiClient
from services.drifti.ingest import DriftiReader
from services.tripletex.client import TripletexClient

drifti_app = typer.Typer(no_args_is_help=True, help="Drifti → Tripletex: the chart-of-accounts mapping.")

Tenant = Annotated[str, typer.Option("--tenant", help="Tenant id (from TENANTS_FILE).")]


def _clients(config: TenantConfig) -> tuple[DriftiReader, TripletexClient]:
    if config.drifti is None or config.tripletex is None:
        raise typer.BadParameter(
            f"tenant {config.tenant_id!r} needs both a Drifti and a Tripletex connection"
        )
    reader = DriftiReader(DriftiClient(config.drifti.base_url, config.drifti.api_key))
    tx = TripletexClient(
        config.tripletex.base_url,
        config.tenant_id,
        consumer_token=config.tripletex.consumer_token,
        employee_token=config.tripletex.employee_token,
    )
    return reader, tx


async def _tenant(tenant_id: str, settings: Settings) -> TenantConfig:
    return await StaticTenantDirectory.from_file(
        settings.tenants_file, allow_plain_http=settings.allow_plain_http
    ).get(tenant_id)


@drifti_app.command("match-accounts")
def match_accounts_command(tenant: Tenant) -> None:
    """Map every Drifti account whose number exists in the tenant's Tripletex chart to it."""

    async def run() -> dict[str, str]:
        settings = Settings()
        reader, tx = _clients(await _tenant(tenant, settings))
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            return await match_accounts(pool, tenant, reader, tx)
        finally:
            await pool.close()
            await reader.client.aclose()
            await tx.aclose()

    matched = asyncio.run(run())
    typer.echo(f"matched {len(matched)} account(s): {', '.join(matched) or '-'}")


@drifti_app.command("map-account")
def map_account_command(
    tenant: Tenant,
    drifti: Annotated[str, typer.Option("--drifti", help="Drifti ledger account number.")],
    tripletex: Annotated[str, typer.Option("--tripletex", help="Tripletex account number.")],
) -> None:
    """Book a Drifti account to a Tripletex account; invoices waiting for it then transfer."""

    async def run() -> int:
        settings = Settings()
        reader, tx = _clients(await _tenant(tenant, settings))
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            async with Publisher(settings) as publisher:
                return await map_account(pool, publisher, tenant, reader, drifti, tripletex, tx)
        finally:
            await pool.close()
            await reader.client.aclose()
            await tx.aclose()

    try:
        count = asyncio.run(run())
    except UnknownTripletexAccount as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"mapped Drifti {drifti} -> Tripletex {tripletex}; {count} waiting invoice(s) sent again")
