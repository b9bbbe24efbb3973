"""``tsync``: the one command to run, set up and demonstrate the engine."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from contracts.envelope import EntityType, SourceSystem
from services.core.settings import Settings
from services.core.tenants import TenantConfig
from services.replay.commands import dlq_app, projections_app, resync
from services.runtime import ALL_ROLES, Role, serve

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.command()
def run(
    roles: Annotated[list[str], typer.Argument(help=f"Roles to run: {', '.join(ALL_ROLES)} or 'all'.")],
) -> None:
    """Run one or more roles in this process until interrupted."""
    chosen: list[Role] = []
    for name in roles:
        if name == "all":
            chosen.extend(ALL_ROLES)
        else:
            try:
                chosen.append(Role(name))
            except ValueError:
                raise typer.BadParameter(
                    f"unknown role {name!r}; choose from {', '.join(ALL_ROLES)}"
                ) from None
    serve(chosen)


@app.command()
def migrate() -> None:
    """Apply the projections' database migrations."""
    from projections.migrate import migrate_url

    applied = asyncio.run(migrate_url(Settings().database_url))
    typer.echo(f"applied migrations: {applied}" if applied else "database schema is up to date")


@app.command()
def topics() -> None:
    """Create the engine's Kafka topics that do not exist yet."""
    from services.core.topic_admin import ensure_topics

    created = asyncio.run(ensure_topics(Settings()))
    typer.echo(f"created: {', '.join(created)}" if created else "all topics exist")


links_app = typer.Typer(no_args_is_help=True, help="The link table: which record is which on each side.")
app.add_typer(links_app, name="links")
app.add_typer(projections_app, name="projections")
app.add_typer(dlq_app, name="dlq")
app.command("resync")(resync)

from services.panel.cli import panel_app  # noqa: E402  (a sub-app of its own, registered here)

app.add_typer(panel_app, name="panel")

from services.tenants.cli import tenants_app  # noqa: E402  (the tenant registry's sub-app)

app.add_typer(tenants_app, name="tenants")

from services.drifti.cli import drifti_app  # noqa: E402  (Drifti's account mapping, D-L1)

app.add_typer(drifti_app, name="drifti")

from services.asyncapi_document import asyncapi_command  # noqa: E402  (the AsyncAPI document)

app.command("asyncapi")(asyncapi_command)

from services.drifti.hours.cli import export_hours  # noqa: E402  (Drifti's hours export, D-H1)

app.command("export-hours")(export_hours)


@links_app.command("restore")
def links_restore(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    entity_type: Annotated[EntityType, typer.Option("--type", help="Entity type.")],
    side: Annotated[SourceSystem, typer.Option(help="Side of the id given.")],
    entity_id: Annotated[str, typer.Option("--id", help="The record's id on that side.")],
) -> None:
    """Restore a link broken by S-C5 (a customer deleted in Svenn), so the record syncs again."""
    from services.operator_actions import restore_link

    decision = asyncio.run(restore_link(Settings(), tenant, entity_type, side, entity_id))
    typer.echo(f"restore requested: decision {decision.decision_id} on sync.decisions.v1")


def _tenant(tenant_id: str) -> TenantConfig:
    from services.core.tenants import UnknownTenant
    from services.tenants.directory import find_tenant

    try:
        return asyncio.run(find_tenant(Settings(), tenant_id))
    except UnknownTenant as exc:
        raise typer.BadParameter(f"{exc} (TENANTS_FILE={Settings().tenants_file})") from None
    except (OSError, ValueError) as exc:
        path = Settings().tenants_file
        if path is None:
            raise
        raise typer.BadParameter(f"cannot read TENANTS_FILE={path}: {exc}") from None


@app.command()
def readiness(tenant: Annotated[str, typer.Option(help="Tenant id (from TENANTS_FILE).")]) -> None:
    """Dry run of the initial sync: what would be linked, created, skipped and why. Changes nothing."""
    from services.onboarding.run import readiness as report
    from services.onboarding.run import render

    typer.echo(render(asyncio.run(report(_tenant(tenant)))))


@app.command("initial-sync")
def initial_sync(
    tenant: Annotated[str, typer.Option(help="Tenant id (from TENANTS_FILE).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the readiness report.")] = False,
) -> None:
    """Switch a tenant on: publish every record of both sides; the engine links, creates and skips."""
    from services.core.publisher import Publisher
    from services.onboarding.run import initial_sync as run
    from services.onboarding.run import readiness as report
    from services.onboarding.run import render

    config = _tenant(tenant)
    if dry_run:
        typer.echo(render(asyncio.run(report(config))))
        return

    async def publish() -> None:
        async with Publisher(Settings()) as publisher:
            done = await run(config, publisher)
        typer.echo(f"published {done.svenn_published} Svenn and {done.tripletex_published} Tripletex records")

    asyncio.run(publish())


@app.command()
def demo() -> None:
    """Move a few changes through the real engine end to end and print every hop."""
    from services.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(Settings())))


def main() -> None:
    app()
