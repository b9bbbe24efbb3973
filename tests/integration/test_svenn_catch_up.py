"""Svenn catch-up polling on real Kafka (and PostgreSQL): watermarks that cannot skip a change.

Svenn lists in creation order. A user who renames a project right after the poll has read its
page, then edits a customer (listed later), leaves the poll with a newest ``updated_at`` past the
rename; a watermark taken from that never reads the rename again. Here the user works exactly
then, inside the poll (a wrapped listing, or a middleware in front of the Svenn simulator that
edits before the page reaches the engine), and no webhook is sent: only the poll can bring the
changes, and every one of them must reach ``svenn.changes.v1``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from cryptography.fernet import Fernet
from pydantic import SecretStr

from contracts.envelope import ChangeEvent, EntityType
from contracts.topics import SVENN_CHANGES, record_key
from projections.database import Database
from services.core.publisher import Publisher
from services.core.settings import Settings
from services.core.tenants import StaticTenantDirectory, SvennAccess, TenantConfig
from services.core.topic_admin import ensure_topics
from services.ingest.catch_up import SVENN_POLL, CatchUp, default_watermarks
from services.ingest.watermarks import PostgresWatermarks
from services.svenn.catch_up import poll_svenn_changes
from services.svenn.client.models import Project
from services.svenn.simulator.app import create_app
from services.svenn.simulator.state import SimState
from services.svenn.simulator.testing import running_sim, serve_asgi
from services.tenants.directory import registry_directory
from services.tripletex.ingest import TripletexClients
from tests.integration.topic_reader import read_until
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def _project_versions(records: list[ConsumerRecord]) -> set[tuple[str, str | None]]:
    events = [ChangeEvent.model_validate_json(r.value or b"") for r in records]
    return {(e.entity_id, e.source_version) for e in events if e.entity_type is EntityType.PROJECT}


async def _published(settings: Settings, tenant_id: str, wanted: set[tuple[str, str]]) -> set[Any]:
    """The (project id, version) pairs of ``wanted`` on the change topic (waits up to 30 s for all)."""
    prefix = f"{tenant_id}|".encode()
    with_prefix: Callable[[ConsumerRecord], bool] = lambda r: r.key.startswith(prefix)  # noqa: E731
    try:
        records = await read_until(
            settings, SVENN_CHANGES, with_prefix, lambda found: wanted <= _project_versions(found)
        )
    except TimeoutError:
        records = await read_until(settings, SVENN_CHANGES, with_prefix, lambda _: True, seconds=1)
    return wanted & _project_versions(records)


async def test_a_project_renamed_while_the_poll_reads_is_published_by_the_next_poll(
    settings: Settings, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(settings)
    async with running_sim() as sim, Publisher(settings) as publisher:
        _, api_key = await sim.tenant(tenant_id)
        async with sim.client(api_key) as svenn:
            first = await svenn.projects.create(
                {"display_id": "2026.1", "name": "Først", "start_date": "2026-01-05"}
            )
            await svenn.projects.create({"display_id": "2026.2", "name": "Andre", "start_date": "2026-01-05"})
            customer = await svenn.customers.create({"customer_number": "100", "name": "Kunde AS"})
            listing = svenn.projects.changed_since
            renamed: list[Project] = []

            def projects_while_a_user_works(since: datetime, **filters: Any) -> AsyncIterator[Project]:
                async def listed() -> AsyncIterator[Project]:
                    async for project in listing(since, **filters):
                        yield project
                    # Svenn's page is read: the user renames the first project, then edits a customer.
                    renamed.append(await svenn.projects.update(first.id, {"name": "Omdøpt"}))
                    await svenn.customers.update(customer.id, {"name": "Kunde AS (ny adresse)"})

                return listed()

            monkeypatch.setattr(svenn.projects, "changed_since", projects_while_a_user_works)
            # No overlap: the watermarks themselves must keep the rename, not a window behind them.
            since = datetime.now(UTC) - timedelta(hours=1)
            watermarks = await poll_svenn_changes(svenn, tenant_id, since, publisher, overlap=timedelta(0))
            monkeypatch.undo()
            await poll_svenn_changes(svenn, tenant_id, watermarks, publisher, overlap=timedelta(0))

    (rename,) = renamed
    wanted = {(first.id, "1"), (rename.id, str(rename.version))}
    assert await _published(settings, tenant_id, wanted) == wanted
    events = await read_until(
        settings, SVENN_CHANGES, lambda r: r.key == record_key(tenant_id, EntityType.PROJECT, first.id), bool
    )
    names = {getattr(ChangeEvent.model_validate_json(r.value or b"").snapshot, "name", None) for r in events}
    assert "Omdøpt" in names


@dataclass
class ServedSvenn:
    """The Svenn simulator over HTTP with one tenant; ``user`` calls it in process, as that tenant."""

    url: str
    user: httpx.AsyncClient
    api_key: str

    async def new_project(self, name: str) -> tuple[str, str]:
        body = {"display_id": f"2026.{uuid.uuid4().hex[:6]}", "name": name, "start_date": "2026-01-05"}
        created = await self.user.post("/api/v1/projects", json=body)
        created.raise_for_status()
        return created.json()["id"], str(created.json()["version"])


@asynccontextmanager
async def served_svenn(
    tenant_id: str, around: Callable[[ASGIApp], ASGIApp] = lambda app: app
) -> AsyncIterator[ServedSvenn]:
    """A fresh simulator with the tenant, served (behind ``around``) on a loopback port."""
    app = create_app(SimState())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svenn.test"
    ) as user:
        created = await user.post("/_sim/tenants", json={"name": tenant_id})
        created.raise_for_status()
        api_key: str = created.json()["api_key"]
        # Polls every 50 ms: lift the default rate window (600 requests a minute) out of the way.
        limits = {"rate_limit": {"limit": 100_000, "period_seconds": 60}}
        (await user.put(f"/_sim/tenants/{tenant_id}/faults", json=limits)).raise_for_status()
        user.headers["Authorization"] = f"Bearer {api_key}"
        async with serve_asgi(around(app)) as url:
            yield ServedSvenn(url, user, api_key)


@dataclass
class UserAtWork:
    """Svenn with a user at work: each time Svenn has read a page of projects for a poll, before the
    engine receives it, the user renames one more project (held by the page at its old version) and
    then edits a customer, which the poll lists later. Svenn sends no webhooks (none subscribed)."""

    projects: list[str] = field(default_factory=list)
    customer: str = ""
    renamed: set[tuple[str, str]] = field(default_factory=set)
    user: httpx.AsyncClient | None = None
    app: ASGIApp | None = None

    def around(self, app: ASGIApp) -> ASGIApp:
        self.app = app
        return self

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        assert self.app is not None
        polled = scope["type"] == "http" and scope["path"] == "/api/v1/projects"
        if not polled or b"updated_since" not in scope["query_string"] or not self.projects:
            await self.app(scope, receive, send)
            return

        async def edit_before_the_page_leaves(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                await self.edit()
            await send(message)

        await self.app(scope, receive, edit_before_the_page_leaves)

    async def edit(self) -> None:
        assert self.user is not None
        project_id = self.projects.pop()
        n = len(self.projects)
        renamed = await self.user.patch(f"/api/v1/projects/{project_id}", json={"name": f"Omdøpt {n}"})
        renamed.raise_for_status()
        self.renamed.add((project_id, str(renamed.json()["version"])))
        touched = await self.user.patch(f"/api/v1/customers/{self.customer}", json={"name": f"Kunde {n}"})
        touched.raise_for_status()


def _svenn_only(tenant_id: str, svenn: ServedSvenn, api_key: str | None = None, **extra: Any) -> TenantConfig:
    access = SvennAccess(base_url=svenn.url, api_key=SecretStr(api_key or svenn.api_key))
    return TenantConfig(tenant_id=tenant_id, svenn=access, **extra)


def _fast(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={"svenn_poll_interval_s": 0.05, "svenn_poll_overlap_s": 0.0, **extra})


async def test_sixty_renames_interleaved_with_the_polls_all_reach_the_change_topic(
    settings: Settings, tenant_id: str
) -> None:
    await ensure_topics(settings)
    at_work = UserAtWork()
    async with served_svenn(tenant_id, at_work.around) as svenn, Publisher(settings) as publisher:
        at_work.user = svenn.user
        at_work.projects = [(await svenn.new_project(f"Prosjekt {i}"))[0] for i in range(60)]
        customer = await svenn.user.post("/api/v1/customers", json={"name": "Kunde AS"})
        at_work.customer = customer.json()["id"]
        tenants = StaticTenantDirectory([_svenn_only(tenant_id, svenn)])
        catch_up = CatchUp(_fast(settings), tenants, publisher, TripletexClients(tenants))
        await catch_up.start()
        try:
            await until(lambda: not at_work.projects, within=60)
            published = await _published(settings, tenant_id, at_work.renamed)
        finally:
            await catch_up.stop()
    assert len(at_work.renamed) == 60
    assert len(published) == 60, f"{60 - len(published)} of 60 renames never reached {SVENN_CHANGES}"


async def test_watermarks_kept_in_postgresql_repair_an_outage_longer_than_the_lookback(
    settings: Settings, tenant_id: str
) -> None:
    await ensure_topics(settings)
    database = Database(settings.database_url)
    await database.start()
    store = PostgresWatermarks.of(database)

    async def stored() -> bool:
        return len(await store.load(tenant_id, "svenn")) == 3

    try:
        async with served_svenn(tenant_id) as svenn, Publisher(settings) as publisher:
            project_id, _ = await svenn.new_project("Før")
            tenants = StaticTenantDirectory([_svenn_only(tenant_id, svenn)])
            first = CatchUp(_fast(settings), tenants, publisher, TripletexClients(tenants), watermarks=store)
            await first.start()
            try:
                await until(stored)
            finally:
                await first.stop()
            # The engine is down; a user renames the project. No webhook, and the restarted engine
            # looks back no time at all: only the stored watermark finds the rename.
            renamed = await svenn.user.patch(f"/api/v1/projects/{project_id}", json={"name": "Etter"})
            renamed.raise_for_status()
            wanted = {(project_id, str(renamed.json()["version"]))}
            lookback_none = _fast(settings, svenn_poll_lookback_s=0.0)
            again = CatchUp(lookback_none, tenants, publisher, TripletexClients(tenants), watermarks=store)
            await again.start()
            try:
                assert await _published(settings, tenant_id, wanted) == wanted
            finally:
                await again.stop()
        rows = await database.pool.fetch(
            "SELECT side, resource FROM catch_up_watermark WHERE tenant_id = $1 ORDER BY resource", tenant_id
        )
        assert [(r["side"], r["resource"]) for r in rows] == [
            ("svenn", "customer"),
            ("svenn", "employee"),
            ("svenn", "project"),
        ]
        # With the tenant registry the ingest has the database, and keeps watermarks there.
        keyed = settings.model_copy(update={"tenant_secret_keys": SecretStr(Fernet.generate_key().decode())})
        assert isinstance(default_watermarks(registry_directory(keyed, database)), PostgresWatermarks)
    finally:
        await database.stop()


async def test_the_tenant_list_is_read_every_round(settings: Settings, tenant_id: str) -> None:
    """Added, re-keyed, paused and resumed tenants: no restart of the catch-up in between."""
    await ensure_topics(settings)
    async with served_svenn(tenant_id) as svenn, Publisher(settings) as publisher:
        tenants = StaticTenantDirectory()
        catch_up = CatchUp(_fast(settings), tenants, publisher, TripletexClients(tenants))
        await catch_up.start()
        job = (tenant_id, SVENN_POLL)
        try:
            assert catch_up.running() == set()
            # Added with a wrong key (its polls fail), then given the right one: polled.
            tenants.put(_svenn_only(tenant_id, svenn, "svn_wrong_key"))
            await until(lambda: job in catch_up.running())
            added = await svenn.new_project("Lagt til")
            tenants.put(_svenn_only(tenant_id, svenn))
            assert await _published(settings, tenant_id, {added}) == {added}
            # Paused: its job stops.
            tenants.put(_svenn_only(tenant_id, svenn, paused=True))
            await until(lambda: job not in catch_up.running())
            while_paused = await svenn.new_project("Mens pauset")
            # Resumed: polled again, from where it was, so what changed meanwhile comes too.
            tenants.put(_svenn_only(tenant_id, svenn))
            assert await _published(settings, tenant_id, {while_paused}) == {while_paused}
        finally:
            await catch_up.stop()
