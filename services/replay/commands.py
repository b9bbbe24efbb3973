"""The operator's commands around the topics: ``tsync projections …``, ``tsync dlq …``, ``tsync resync``.

Registered on ``tsync`` in ``services/cli.py``; the work is done in ``projections.rebuild``,
``services.replay.dead_letter_admin`` and ``services.replay.resync``, which the tests call
directly. Everything here is presentation: rich tables, progress bars, exit codes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from contracts import headers
from services.core.settings import Settings
from services.replay.dead_letter_admin import (
    DeadLetter,
    UnknownConsumer,
    consumers_named,
    find,
    read_dead_letters,
    replay,
)
from services.replay.resync import CORRECTIONS, Action, Resync
from services.replay.topic_range import Progress as ReadProgress

console = Console()

projections_app = typer.Typer(
    no_args_is_help=True, help="The projections (links, error log, status) in PostgreSQL."
)
dlq_app = typer.Typer(
    no_args_is_help=True, help="Dead letters: messages a consumer could not handle, and why."
)


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """Counts, a bar and the time left; on stderr, so a piped report stays clean."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        yield bar


# --------------------------------------------------------------------------- projections
@projections_app.command("rebuild")
def projections_rebuild(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (others are not touched).")] = None,
) -> None:
    """Rebuild outcomes, status, links, error and decision logs from the outcome and decision topics."""
    from projections.rebuild import rebuild

    with progress_bar("reading topics") as bar:
        task = bar.add_task("reading topics", total=None)

        def advance(p: ReadProgress) -> None:
            bar.update(task, completed=p.read, total=p.total)

        report = asyncio.run(rebuild(Settings(), tenant, advance))
    console.print(
        Text(f"Projections rebuilt ({'tenant ' + tenant if tenant else 'every tenant'})", style="bold")
    )
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.rows.items():
        table.add_row(name, str(rows))
    console.print(table)
    console.print(f"read {report.read} messages, re-applied {report.applied}, skipped {len(report.skipped)}")
    for skipped in report.skipped[:20]:
        console.print(f"  skipped {skipped.where}: {skipped.reason}")


# --------------------------------------------------------------------------- dead letters
def _letters_or_exit(consumer: str | None) -> list[DeadLetter]:
    try:
        names = consumers_named(consumer)
    except UnknownConsumer as exc:
        raise typer.BadParameter(str(exc)) from None
    return asyncio.run(read_dead_letters(Settings(), names))


@dlq_app.command("list")
def dlq_list(
    consumer: Annotated[str | None, typer.Option(help="Only this consumer's dead letters.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's.")] = None,
    limit: Annotated[int, typer.Option(help="Newest N per consumer.")] = 50,
) -> None:
    """Every dead letter with its consumer, id (partition:offset), time, key, stage and reason."""
    letters = _letters_or_exit(consumer)
    if tenant is not None:
        letters = [d for d in letters if d.tenant_id == tenant]
    shown: list[DeadLetter] = []
    for name in dict.fromkeys(d.consumer for d in letters):
        shown += [d for d in letters if d.consumer == name][-limit:]
    table = Table(title=f"Dead letters ({len(letters)})")
    for column in ("consumer", "id", "failed at", "key", "stage", "reason", "source", "replayed"):
        table.add_column(column, overflow="fold")
    for d in shown:
        replayed = f"{d.replayed_at:%Y-%m-%d %H:%M} → {d.replayed_to}" if d.replayed_at else ""
        table.add_row(
            d.consumer, d.id, d.failed_at[:19], d.key_text, d.stage, d.reason[:160], d.source, replayed
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(
    consumer: Annotated[str, typer.Argument(help="The consumer whose dead-letter topic holds it.")],
    letter_id: Annotated[str, typer.Argument(metavar="PARTITION:OFFSET", help="As `dlq list` shows it.")],
) -> None:
    """One dead letter in full: why it failed, where it came from, its headers and payload."""
    try:
        letter = asyncio.run(find(Settings(), consumer, letter_id))
    except UnknownConsumer as exc:
        raise typer.BadParameter(str(exc)) from None
    if letter is None:
        console.print(f"no dead letter {letter_id} for {consumer}")
        raise typer.Exit(1)
    table = Table(title=f"{consumer} {letter.id}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("reason", letter.reason)
    table.add_row("exception", letter.header(headers.DLQ_EXCEPTION) or "")
    table.add_row("stage", letter.stage)
    table.add_row("failed at", letter.failed_at)
    table.add_row("source", letter.source)
    table.add_row("key", letter.key_text)
    table.add_row("replayed", f"{letter.replayed_at} → {letter.replayed_to}" if letter.replayed_at else "no")
    for k, v in letter.headers:
        table.add_row(f"header {k}", v.decode("utf-8", "replace"))
    console.print(table)
    try:
        console.print_json(json.dumps(json.loads(letter.value)))
    except ValueError:
        console.print(repr(letter.value))


@dlq_app.command("replay")
def dlq_replay(
    consumer: Annotated[str, typer.Argument(help="The consumer whose dead letters to replay.")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="PARTITION:OFFSET (repeatable).")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Every dead letter not replayed yet.")] = False,
) -> None:
    """Publish dead letters again, unchanged, to the topic they came from; each one at most once."""
    if bool(ids) == replay_all:
        raise typer.BadParameter("give --id (one or more) or --all")
    try:
        report = asyncio.run(replay(Settings(), consumer, None if replay_all else ids))
    except UnknownConsumer as exc:
        raise typer.BadParameter(str(exc)) from None
    table = Table(title=f"Replay of {consumer}'s dead letters")
    for column in ("id", "result", "to"):
        table.add_column(column)
    for d in report.published:
        table.add_row(d.id, "replayed", d.replayed_to or "")
    for d in report.already:
        table.add_row(d.id, "already replayed", d.replayed_to or "")
    for d in report.unplaceable:
        table.add_row(d.id, "no source topic in headers", "")
    for missing in report.missing:
        table.add_row(missing, "not found", "")
    console.print(table)
    if report.missing or report.unplaceable:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- re-sync
def resync(
    tenant: Annotated[str, typer.Option(help="Tenant id (registry or TENANTS_FILE).")],
    since: Annotated[
        str | None, typer.Option(help="Only records changed since (ISO 8601; UTC if no offset).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the corrections; publish nothing.")
    ] = False,
    samples: Annotated[int, typer.Option(help="Examples shown per kind of correction.")] = 5,
) -> None:
    """Compare a tenant's two sides with the engine's view; publish only the corrections."""
    from services.cli import _tenant
    from services.replay.resync import resync as run

    when = _moment(since) if since is not None else None
    config = _tenant(tenant)
    with progress_bar("re-sync") as bar:
        tasks: dict[str, TaskID] = {}

        def advance(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        report = asyncio.run(run(Settings(), config, since=when, dry_run=dry_run, progress=advance))
    console.print(render_resync(report, samples))


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-20T06:00+01:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def render_resync(report: Resync, samples: int = 5) -> Group:
    """Counts per entity type and action, then examples of each correction with its reason."""
    heading = f"Re-sync of {report.tenant_id}"
    if report.since is not None:
        heading += f", records changed since {report.since.isoformat()}"
    if report.dry_run:
        heading += " (dry run: nothing was published)"
    counts = report.counts()
    actions = [a for a in Action if any(n for (_, act), n in counts.items() if act is a)]
    table = Table()
    table.add_column("entity")
    for action in actions:
        table.add_column(action.value, justify="right", style="bold" if action in CORRECTIONS else "dim")
    for entity in sorted({e for e, _ in counts}):
        table.add_row(entity.value, *(str(counts[(entity, a)]) for a in actions))
    parts: list[RenderableType] = [Text(heading, style="bold"), table]
    for action in [a for a in actions if a in CORRECTIONS or a in (Action.SKIP, Action.KNOWN_ERROR)]:
        items = [i for i in report.items if i.action is action]
        examples = Table(title=f"{action.value} ({len(items)})", title_justify="left")
        for column in ("entity", "side", "id", "other", "key", "rule", "reason"):
            examples.add_column(column, overflow="fold")
        for i in items[:samples]:
            other = i.other_id or ""
            examples.add_row(
                i.entity_type.value, i.side.value, i.entity_id, other, i.key or "", i.rule_id, i.reason
            )
        parts.append(examples)
    listed = ", ".join(f"{side.value} {n}" for side, n in sorted(report.listed.items()))
    verdict = (
        f"{len(report.corrections)} corrections found"
        + ("" if report.dry_run else f", {report.published} published as change events")
        + f"; records listed: {listed}"
    )
    parts.append(Text(verdict))
    return Group(*parts)
