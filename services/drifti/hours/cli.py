"""``tsync export-hours``: the hours export (D-H1) from a terminal, with progress and a summary."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Annotated, Any

import typer


def export_hours(
    tenant: Annotated[str, typer.Option(help="Tenant id (from TENANTS_FILE).")],
    start: Annotated[
        dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD.")
    ],
    end: Annotated[dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (included).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; change nothing.")
    ] = False,
) -> None:
    """Send the period's approved Drifti hours to Tripletex timesheets. Safe to repeat."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from projections.database import Database
    from services.core.publisher import Publisher
    from services.core.settings import Settings
    from services.core.tenants import UnknownTenant
    from services.core.topic_admin import ensure_topics
    from services.drifti.hours.run import NotConnected, run_export
    from services.drifti.hours.store import PostgresLinkStore
    from services.tenants.directory import find_tenant

    if end < start:
        raise typer.BadParameter("--to is before --from")
    settings = Settings()
    try:
        config = asyncio.run(find_tenant(settings, tenant))
    except UnknownTenant as exc:
        raise typer.BadParameter(f"{exc} (TENANTS_FILE={settings.tenants_file})") from None
    console = Console()
    labels = {
        "read": "Reading Drifti",
        "link": "Linking employees, activities, projects",
        "write": "Writing hours",
    }

    async def run() -> dict[str, Any]:
        database = Database(settings.database_url)
        await database.start()
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bars:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bars.add_task(labels.get(stage, stage), total=total or None)
                    bars.update(tasks[stage], completed=done, total=total or None)

                async with contextlib.AsyncExitStack() as stack:
                    # A dry run changes nothing, so it records nothing on the topics either.
                    publisher = None
                    if not dry_run:
                        if settings.create_topics:  # as every role does at start-up
                            await ensure_topics(settings)
                        publisher = await stack.enter_async_context(Publisher(settings))
                    done = await run_export(
                        config,
                        start.date(),
                        end.date(),
                        store=PostgresLinkStore(database.pool),
                        publisher=publisher,
                        dry_run=dry_run,
                        progress=progress,
                    )
            return done.export.summary()
        finally:
            await database.stop()

    try:
        summary = asyncio.run(run())
    except NotConnected as exc:
        raise typer.BadParameter(str(exc)) from None
    render(console, summary)


def render(console: Any, summary: dict[str, Any]) -> None:
    """The summary as tables: hours per employee and project, entries written, what was held back."""
    from rich.table import Table

    from contracts.error_codes import CATALOG, DRIFTI_HOURS_NOT_APPROVED, DRIFTI_USER_NOT_LINKED

    if summary["dry_run"]:
        console.print("[bold]Dry run: nothing was changed.[/] What an export would leave in Tripletex:")
    totals = Table(title=f"Hours {summary['from']} … {summary['to']} in Tripletex")
    for column in ("employee", "job", "Tripletex project", "hours"):
        totals.add_column(column, justify="right" if column == "hours" else "left")
    for row in summary["totals"]:
        totals.add_row(row["user"], row["job_number"], str(row["project_id"]), row["hours"])
    totals.add_section()
    totals.add_row("all", "", "", summary["exported_hours"])
    console.print(totals)
    entries = summary["entries"]
    console.print(
        f"timesheet entries: {entries['created']} created, {entries['updated']} updated, "
        f"{entries['removed']} removed, {entries['unchanged']} unchanged; "
        f"approved in Drifti: {summary['approved_hours']} h"
    )
    if summary["reported"]:
        held = Table(title="Not sent")
        for column in ("reason", "user", "entries", "hours"):
            held.add_column(column)
        for row in summary["reported"]:
            held.add_row(row["reason"], row["user"], str(row["entries"]), row["hours"])
        console.print(held)
        if any(r["reason"] == "not_approved" for r in summary["reported"]):
            console.print(f"  → {CATALOG[DRIFTI_HOURS_NOT_APPROVED].action_en}")
    for user in summary["unlinked_users"]:
        console.print(f"[bold]{user['name']}[/] ({user['email']}) has no Tripletex employee ({user['why']}).")
        console.print(f"  → {CATALOG[DRIFTI_USER_NOT_LINKED].action_en}")
