"""``tsync tenants``: onboard tenants, pause and resume their writes, replace credentials, re-key.

Secrets are read from hidden prompts, a JSON file or stdin, never from the command line (it
ends up in shell history and process lists) and are never printed: ``list`` shows only which
credentials are set.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from aiokafka.errors import KafkaError
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table

from projections.database import Database
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import InsecureBaseUrl, TenantConfig, UnknownTenant, check_base_url
from services.tenants.registry import (
    ACCESS_OF,
    SIDES,
    InvalidTenant,
    TenantExists,
    TenantRegistry,
    TenantRow,
    field_errors,
    secret_fields,
)
from services.tenants.resume import resume as resume_tenant
from services.tenants.secret_box import SecretBox, SecretKeyInvalid, SecretKeysMissing, SecretsUnreadable

tenants_app = typer.Typer(
    no_args_is_help=True, help="The tenant registry: connections, credentials (encrypted), pausing."
)

T = TypeVar("T")
_OPERATOR_ERRORS = (
    UnknownTenant,
    TenantExists,
    InvalidTenant,
    SecretKeysMissing,
    SecretKeyInvalid,
    SecretsUnreadable,
)


def _console() -> Console:
    return Console(highlight=False)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@asynccontextmanager
async def _registry(settings: Settings, *, keys: bool) -> AsyncIterator[TenantRegistry]:
    box = SecretBox.from_settings(settings) if keys else _optional_box(settings)
    database = Database(settings.database_url)
    await database.start()  # applies pending migrations, like every other entry point
    try:
        yield TenantRegistry(database.pool, box, allow_plain_http=settings.allow_plain_http)
    finally:
        await database.stop()


def _optional_box(settings: Settings) -> SecretBox | None:
    return SecretBox.from_settings(settings) if settings.tenant_secret_keys is not None else None


def _run(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work(Settings()))
    except _OPERATOR_ERRORS as exc:
        raise _fail(str(exc)) from None


def _read_config(tenant_id: str, source: str) -> TenantConfig:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{source}: cannot be read ({exc.strerror})") from None
    try:
        raw: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise _fail(f"{source}: expected one JSON object with svenn/drifti/tripletex connections")
    if raw.setdefault("tenant_id", tenant_id) != tenant_id:
        raise _fail(f"{source} is for tenant {raw['tenant_id']!r}, not {tenant_id!r}")
    try:
        return TenantConfig.model_validate(raw)
    except ValidationError as exc:
        raise _fail(f"{source}: {field_errors(exc)}") from None


def _prompt_config(tenant_id: str, urls: dict[str, str | None], paused: bool) -> TenantConfig:
    sides: dict[str, dict[str, str]] = {}
    for side, url in urls.items():
        if url is None:
            continue
        values: dict[str, str] = {"base_url": url}
        for field in secret_fields(side):
            required = ACCESS_OF[side].model_fields[field].is_required()
            label = f"{side} {field}" + ("" if required else " (empty: none)")
            value = typer.prompt(label, hide_input=True, default=None if required else "", show_default=False)
            if value:
                values[field] = value
        sides[side] = values
    return _validated(tenant_id, sides, paused)


def _validated(tenant_id: str, sides: dict[str, dict[str, str]], paused: bool) -> TenantConfig:
    try:
        return TenantConfig.model_validate({"tenant_id": tenant_id, "paused": paused, **sides})
    except ValidationError as exc:
        raise _fail(field_errors(exc)) from None


@tenants_app.command("add")
def add(
    tenant: Annotated[str, typer.Argument(help="Tenant id (lower-case letters, digits, - and _).")],
    svenn_url: Annotated[str | None, typer.Option(help="Svenn API base URL (connects Svenn).")] = None,
    drifti_url: Annotated[str | None, typer.Option(help="Drifti API base URL (connects Drifti).")] = None,
    tripletex_url: Annotated[
        str | None, typer.Option(help="Tripletex API base URL, e.g. https://tripletex.no/v2.")
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(help="JSON file (or - for stdin) with the connections, as in TENANTS_FILE."),
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Register it paused (no writes yet).")] = False,
) -> None:
    """Register a tenant. Credentials are prompted for (hidden) unless --config gives them."""
    urls = {"svenn": svenn_url, "drifti": drifti_url, "tripletex": tripletex_url}
    if config is not None:
        if any(urls.values()):
            raise _fail("give either --config or the --*-url options, not both")
        tenant_config = _read_config(tenant, config)
        if paused:
            tenant_config = tenant_config.model_copy(update={"paused": True})
    elif not any(urls.values()):
        raise _fail("connect at least one side: --svenn-url, --drifti-url, --tripletex-url or --config")
    else:
        for side, url in urls.items():  # before anyone types a credential for it
            if url is not None:
                try:
                    check_base_url(tenant, side, url, allow_plain_http=Settings().allow_plain_http)
                except InsecureBaseUrl as exc:
                    raise _fail(str(exc)) from None
        tenant_config = _prompt_config(tenant, urls, paused)

    async def work(settings: Settings) -> TenantRow:
        async with _registry(settings, keys=True) as registry:
            return await registry.add(tenant_config)

    row = _run(work)
    _console().print(
        f"added tenant [bold]{row.tenant_id}[/bold] ({row.state}): {', '.join(row.sides)}; "
        f"credentials set: {', '.join(row.credentials_set)}"
    )


@tenants_app.command("list")
def list_tenants() -> None:
    """Every tenant: state, connected sides, base URLs, which credentials are set (never their values)."""

    async def work(settings: Settings) -> tuple[list[TenantRow], SecretBox | None]:
        async with _registry(settings, keys=False) as registry:
            return await registry.rows(), _optional_box(settings)

    rows, box = _run(work)
    if not rows:
        _console().print("no tenants registered (add one with: tsync tenants add)")
        return
    table = Table(title="tenants")
    for column in ("tenant", "state", "side", "base URL", "credentials", "key", "updated"):
        table.add_column(column, no_wrap=column in ("tenant", "state", "side"))
    for row in rows:
        key = row.key_id if box is None or row.key_id == box.key_id else f"{row.key_id} (old)"
        for index, side in enumerate(row.sides):
            set_here = [c.split(".", 1)[1] for c in row.credentials_set if c.startswith(f"{side}.")]
            credentials = ", ".join(
                f"{f} ••••" if f in set_here else f"{f} (not set)" for f in secret_fields(side)
            )
            first = index == 0
            table.add_row(
                row.tenant_id if first else "",
                _state(row.state, row.parked) if first else "",
                side,
                row.base_urls[side],
                credentials,
                key if first else "",
                f"{row.updated_at:%Y-%m-%d %H:%M}" if first else "",
            )
    _console().print(table)


def _state(state: str, parked: int) -> str:
    shown = {"active": "[green]active[/green]", "paused": "[yellow]paused[/yellow]"}.get(
        state, f"[cyan]{state}[/cyan]"
    )
    return f"{shown} ({parked} parked)" if parked else shown


@tenants_app.command("pause")
def pause(tenant: Annotated[str, typer.Argument(help="Tenant id.")]) -> None:
    """Stop the tenant's writes: writers park its commands (nothing is lost) until it is resumed."""

    async def work(settings: Settings) -> TenantRow:
        async with _registry(settings, keys=False) as registry:
            return await registry.pause(tenant)

    row = _run(work)
    _console().print(
        f"paused [bold]{row.tenant_id}[/bold]: writers park its commands from within "
        f"{Settings().tenant_cache_ttl_s:g} s; `tsync tenants resume {row.tenant_id}` writes them"
    )


@tenants_app.command("resume")
def resume(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the writers to write the parked commands.")
    ] = 60,
) -> None:
    """Re-publish the tenant's parked commands in order; the tenant is active once all are written."""

    async def work(settings: Settings) -> Any:
        async with _registry(settings, keys=False) as registry, Publisher(settings) as publisher:
            return await resume_tenant(
                registry.pool, publisher, tenant, wait_s=wait, settle_s=settings.tenant_cache_ttl_s
            )

    try:
        report = _run(work)
    except KafkaError as exc:
        raise _fail(
            f"Kafka refused the parked commands ({type(exc).__name__}); {tenant} stays resuming and "
            "keeps them: run resume again when Kafka is back"
        ) from None
    if report.state == "active":
        _console().print(f"resumed [bold]{tenant}[/bold]: {report.released} parked command(s) written")
    elif report.state == "paused":
        raise _fail(f"{tenant} was paused again while resuming; {report.released} command(s) were released")
    else:
        raise _fail(
            f"{tenant} is still resuming: {report.waiting} of {report.released} released command(s) are "
            "not written yet (are the writers running?); new commands stay parked. Run resume again."
        )


@tenants_app.command("rotate-secret")
def rotate_secret(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    side: Annotated[str, typer.Option(help=f"Side: {', '.join(SIDES)}.")],
    field: Annotated[str, typer.Option(help="Credential, e.g. employee_token, api_key, webhook_secret.")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the new value from stdin (one line).")] = False,
) -> None:
    """Replace one credential of a tenant. The value is prompted for (hidden) or read from stdin."""
    if stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(f"new {side} {field}", hide_input=True, confirmation_prompt=True)

    async def work(settings: Settings) -> TenantRow:
        async with _registry(settings, keys=True) as registry:
            return await registry.set_credential(tenant, side, field, SecretStr(value))

    row = _run(work)
    _console().print(
        f"replaced {side}.{field} of [bold]{row.tenant_id}[/bold]; its writers use it within "
        f"{Settings().tenant_cache_ttl_s:g} s"
    )


@tenants_app.command("rotate-key")
def rotate_key() -> None:
    """Re-seal every tenant's credentials with the first key of TENANT_SECRET_KEYS."""

    async def work(settings: Settings) -> tuple[int, int, list[str], str]:
        async with _registry(settings, keys=True) as registry:
            resealed, total, unreadable = await registry.rotate_key()
            return resealed, total, unreadable, registry.box.key_id

    resealed, total, unreadable, key = _run(work)
    _console().print(f"re-sealed {resealed} of {total} tenant(s) with key {key}")
    if unreadable:
        raise _fail(
            f"none of the keys opens the credentials of {', '.join(unreadable)}: keep the old key(s) until "
            "those tenants get new credentials (tsync tenants rotate-secret) or are sealed otherwise"
        )
    _console().print("every tenant uses that key now: the other keys can be removed from TENANT_SECRET_KEYS")


@tenants_app.command("offboard")
def offboard(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    by: Annotated[
        str | None, typer.Option(help="Who erases (kept in the erasure record); default: your login.")
    ] = None,
) -> None:
    """Erase a tenant: its rows in every table, credentials, panel tokens, parked commands, watermarks;
    tombstones for its messages on the compacted topics; the rest of its messages expire."""
    import getpass

    from services.tenants import offboard as erasing

    operator = by or getpass.getuser()

    async def preview(settings: Settings) -> dict[str, int]:
        return await erasing.count_rows(settings, tenant)

    try:
        rows = _run(preview)
    except erasing.UncoveredTable as exc:
        raise _fail(str(exc)) from None
    console = _console()
    found = {table: n for table, n in rows.items() if n}
    if found:
        console.print(
            f"[bold]{tenant}[/bold]: "
            + ", ".join(f"{table} {n}" for table, n in found.items())
            + " row(s) in PostgreSQL, and its messages on Kafka"
        )
    else:
        console.print(f"no rows of [bold]{tenant}[/bold] in PostgreSQL; its messages on Kafka are looked for")
    if not yes and not typer.confirm(f"Erase tenant {tenant} for good? This cannot be undone", default=False):
        raise _fail("nothing erased")

    async def work(settings: Settings) -> erasing.Erasure:
        return await erasing.offboard(settings, tenant, operator)

    try:
        erasure = _run(work)
    except erasing.UncoveredTable as exc:
        raise _fail(str(exc)) from None
    except KafkaError as exc:
        raise _fail(
            f"Kafka refused ({type(exc).__name__}): {tenant}'s rows are erased, its tombstones may not be; "
            "run offboard again when Kafka is back"
        ) from None
    table = Table(title=f"erased {tenant} (erasure record {erasure.erasure_id}, by {operator})")
    table.add_column("where")
    table.add_column("erased", justify="right")
    for name, count in erasure.rows.items():
        table.add_row(f"table {name}", str(count))
    for topic, count in erasure.tombstones.items():
        table.add_row(f"topic {topic} (tombstones; compacted away within 7 days)", str(count))
    console.print(table)
    expires = f"{erasure.kafka_expires_by:%Y-%m-%d %H:%M}"
    console.print(f"its messages on change, command and dead-letter topics expire by {expires} UTC")
    settings = Settings()
    if settings.tenants_file is not None:
        console.print(
            f"[yellow]TENANTS_FILE is set: remove {tenant} from {settings.tenants_file} too[/yellow]"
        )
