"""``tsync panel``: grant, list and revoke access tokens for a tenant's integration panel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
import typer

from projections.migrate import migrate
from services.core.settings import Settings
from services.panel import access

T = TypeVar("T")

panel_app = typer.Typer(no_args_is_help=True, help="Access to the integration panel (served under /panel).")


def _with_database(action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def run() -> T:
        connection = await asyncpg.connect(Settings().database_url)
        try:
            await migrate(connection)  # the access table must exist before the first grant
            return await action(connection)
        finally:
            await connection.close()

    return asyncio.run(run())


@panel_app.command("grant")
def grant(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    label: Annotated[str | None, typer.Option(help="Who or what the token is for.")] = None,
) -> None:
    """Make a new access token for the tenant's panel and print it (it is shown only this once)."""
    made = _with_database(lambda c: access.grant(c, tenant, label))
    typer.echo(f"access id: {made.access_id}  (tenant {made.tenant_id})")
    typer.echo(f"token:     {made.token}")
    typer.echo("Keep the token now: only its hash is stored. Sign in at /panel/login.")


@panel_app.command("list")
def list_tokens(tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    """The tenant's access ids, when each was made and whether it was revoked (never the tokens)."""
    for a in _with_database(lambda c: access.listed(c, tenant)):
        state = f"revoked {a.revoked_at:%Y-%m-%d %H:%M}" if a.revoked_at else "active"
        typer.echo(f"{a.access_id}  {a.created_at:%Y-%m-%d %H:%M}  {state}  {a.label or ''}")


@panel_app.command("revoke")
def revoke(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    access_id: Annotated[str | None, typer.Option("--id", help="Access id (from grant/list).")] = None,
    all_tokens: Annotated[bool, typer.Option("--all", help="Revoke every token of the tenant.")] = False,
) -> None:
    """Revoke one token (``--id``) or all of a tenant's (``--all``); their sessions end at once."""
    if (access_id is None) == (not all_tokens):
        raise typer.BadParameter("give either --id or --all")
    count = _with_database(lambda c: access.revoke(c, tenant, access_id))
    typer.echo(f"revoked {count} token(s) of tenant {tenant}")
    if count == 0:
        raise typer.Exit(1)
