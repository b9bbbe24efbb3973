"""The integration panel over HTTP (httpx): login, tenant scoping, every view, and retry.

The data is real: the engine (``Sandbox``: both simulators, Kafka, PostgreSQL) produced it from
users' changes in Svenn. Tests named after S-X1 prove the error log's promises to the user.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from contracts.envelope import DecisionRecord, EntityType, SourceSystem, Verdict
from contracts.error_codes import CATALOG, CUSTOMER_NON_NUMERIC_ID, PROJECT_MISSING_START_DATE
from contracts.ids import change_event_id
from projections import decision_log
from projections.migrate import migrate
from services.core.settings import Settings
from services.panel import access
from services.panel.retry import fetch_event, retry
from services.panel.session import COOKIE
from services.sandbox import Sandbox
from tests.integration.panel_scenario import WAIT, Scenario, decisions_about, grant, produce

pytestmark = pytest.mark.integration

VIEWS = ("/", "/errors", "/links", "/decisions", "/readiness")


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings, tenant_prefix="panel") as running:
        yield running


@pytest.fixture(scope="module")
async def scenario(sandbox: Sandbox) -> Scenario:
    return await produce(sandbox, sandbox.tenant)


@pytest.fixture(scope="module")
async def other(sandbox: Sandbox) -> tuple[str, str]:
    """Another tenant with an error of its own: (tenant id, the id of its erroneous project)."""
    t = await sandbox.add_tenant()
    project = await t.svenn.projects.create({"display_id": "9999.1", "name": "Hemmelig prosjekt"})

    async def opened() -> bool:
        return any(r["entity_id"] == project.id for r in await sandbox.errors(t.tenant_id, open_only=True))

    await sandbox.wait_until(opened, WAIT)
    return t.tenant_id, project.id


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.engine_url, timeout=20) as c:
        yield c


async def login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/panel/login", data={"token": token})


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, "the page has no retry form"
    return found.group(1)


async def test_panel_pages_need_a_session(client: httpx.AsyncClient, scenario: Scenario) -> None:
    for view in VIEWS:
        response = await client.get(f"/panel/{scenario.tenant.tenant_id}{view}")
        assert response.status_code == 303 and response.headers["location"] == "/panel/login", view
    form = await client.get("/panel/login")
    assert form.status_code == 200 and 'name="token"' in form.text


async def test_an_unknown_token_is_refused(client: httpx.AsyncClient, scenario: Scenario) -> None:
    response = await login(client, scenario.token + "x")
    assert response.status_code == 401 and "login-error" in response.text
    assert COOKIE not in response.cookies


async def test_login_sets_an_http_only_signed_cookie_and_opens_the_tenants_overview(
    client: httpx.AsyncClient, scenario: Scenario
) -> None:
    response = await login(client, scenario.token)
    tenant = scenario.tenant.tenant_id
    assert response.status_code == 303 and response.headers["location"] == f"/panel/{tenant}/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/panel" in cookie
    assert scenario.token not in response.headers["set-cookie"]  # the cookie never carries the token
    overview = await client.get(f"/panel/{tenant}/")
    assert overview.status_code == 200
    assert re.search(r'id="open-errors">2<', overview.text)  # S-P1 and S-C1, both open
    assert 'data-entity="project"' in overview.text and 'data-entity="customer"' in overview.text


async def test_the_cookie_is_secure_even_when_tls_ends_at_the_ingress(
    sandbox: Sandbox, scenario: Scenario
) -> None:
    """Behind a TLS Ingress the process sees plain http; the cookie must still be HTTPS-only."""
    from fastapi import FastAPI

    from services.panel.routes import panel_routes

    assert sandbox.runtime.database is not None
    app = FastAPI()
    app.include_router(
        panel_routes(
            sandbox.runtime.database,
            sandbox.tenants,
            sandbox.runtime.publisher,
            sandbox.runtime.tripletex_clients,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://behind-ingress"
    ) as c:
        response = await login(c, scenario.token)
    assert response.status_code == 303
    assert "secure" in [part.strip().lower() for part in response.headers["set-cookie"].split(";")]


async def test_another_tenants_pages_are_refused_and_show_nothing_of_it(
    client: httpx.AsyncClient, sandbox: Sandbox, scenario: Scenario, other: tuple[str, str]
) -> None:
    other_tenant, other_project = other
    await login(client, scenario.token)
    for view in VIEWS:
        response = await client.get(f"/panel/{other_tenant}{view}")
        assert response.status_code == 403, view
        assert other_project not in response.text and "Hemmelig" not in response.text
    page = await client.get(f"/panel/{scenario.tenant.tenant_id}/errors")
    before = len(await decisions_about(sandbox, other_tenant, other_project))
    refused = await client.post(
        f"/panel/{other_tenant}/errors/retry",
        data={"side": "svenn", "entity_type": "project", "entity_id": other_project, "csrf": csrf_of(page)},
    )
    assert refused.status_code == 403
    assert len(await decisions_about(sandbox, other_tenant, other_project)) == before

    # A cookie edited to name the other tenant fails its signature: back to the login form.
    session = client.cookies[COOKIE]
    forged = session.replace(scenario.tenant.tenant_id, other_tenant)
    client.cookies.clear()
    client.cookies.set(COOKIE, forged, path="/panel")
    response = await client.get(f"/panel/{other_tenant}/errors")
    assert response.status_code == 303 and response.headers["location"] == "/panel/login"


async def test_S_X1_error_log_shows_norwegian_with_english_and_what_to_do(
    client: httpx.AsyncClient, scenario: Scenario
) -> None:
    await login(client, scenario.token)
    page = await client.get(f"/panel/{scenario.tenant.tenant_id}/errors")
    assert page.status_code == 200
    for code in (PROJECT_MISSING_START_DATE, CUSTOMER_NON_NUMERIC_ID):
        entry = CATALOG[code]
        for text in (entry.message_no, entry.message_en, entry.action_no, entry.action_en):
            assert _html(text) in page.text, text
    assert scenario.dateless_project_id in page.text and scenario.lettered_customer_id in page.text


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


async def test_S_X1_error_log_filters_by_code_side_entity_and_state(
    client: httpx.AsyncClient, scenario: Scenario
) -> None:
    await login(client, scenario.token)
    errors = f"/panel/{scenario.tenant.tenant_id}/errors"

    async def ids(**params: str) -> set[str]:
        page = await client.get(errors, params=params)
        assert page.status_code == 200
        return set(re.findall(r'data-entity-id="([^"]+)"', page.text))

    both = {scenario.dateless_project_id, scenario.lettered_customer_id}
    assert await ids() == both
    assert await ids(code=CUSTOMER_NON_NUMERIC_ID) == {scenario.lettered_customer_id}
    assert await ids(entity="project") == {scenario.dateless_project_id}
    assert await ids(side="svenn", state="open") == both
    assert await ids(side="tripletex") == set()
    assert await ids(state="resolved") == set()
    assert await ids(record=scenario.lettered_customer_id) == {scenario.lettered_customer_id}
    assert await ids(state="all", code="", side="", entity="", record="") == both  # empty choices mean "all"


async def test_links_are_searched_by_number_id_and_name(
    client: httpx.AsyncClient, scenario: Scenario
) -> None:
    await login(client, scenario.token)
    links = f"/panel/{scenario.tenant.tenant_id}/links"
    for q in ("2026.10", "kontorbygg", scenario.synced_project_id, str(scenario.tripletex_project_id)):
        page = await client.get(links, params={"q": q})
        assert scenario.synced_project_id in page.text, q
        assert str(scenario.tripletex_project_id) in page.text, q
        assert "Tallkunde" not in page.text, q
    everything = await client.get(links)
    assert "Kontorbygg Nord" in everything.text and "Tallkunde AS" in everything.text
    nothing = await client.get(links, params={"q": "%"})  # a LIKE wildcard is searched for, not expanded
    assert 'id="no-links"' in nothing.text


async def test_decisions_show_the_rule_id_verdict_and_reason(
    client: httpx.AsyncClient, scenario: Scenario
) -> None:
    await login(client, scenario.token)
    page = await client.get(
        f"/panel/{scenario.tenant.tenant_id}/decisions", params={"entity_id": scenario.dateless_project_id}
    )
    rows = re.findall(r'class="decision-row" data-rule="([^"]+)" data-entity-id="([^"]+)"', page.text)
    assert rows and all(entity == scenario.dateless_project_id for _, entity in rows)
    assert {rule for rule, _ in rows} == {"S-P1"}
    assert "reject" in page.text and PROJECT_MISSING_START_DATE in page.text
    everything = await client.get(f"/panel/{scenario.tenant.tenant_id}/decisions")
    assert 'data-rule="S-C1"' in everything.text and 'data-rule="S-P4"' in everything.text


async def test_retry_decides_the_record_again(
    client: httpx.AsyncClient, sandbox: Sandbox, scenario: Scenario
) -> None:
    tenant = scenario.tenant.tenant_id
    await login(client, scenario.token)
    page = await client.get(f"/panel/{tenant}/errors", params={"code": PROJECT_MISSING_START_DATE})
    before = await decisions_about(sandbox, tenant, scenario.dateless_project_id)
    form = {"side": "svenn", "entity_type": "project", "entity_id": scenario.dateless_project_id}

    forged = await client.post(f"/panel/{tenant}/errors/retry", data={**form, "csrf": "0" * 32})
    assert forged.status_code == 403

    response = await client.post(
        f"/panel/{tenant}/errors/retry",
        data={**form, "csrf": csrf_of(page), "back": f"code={PROJECT_MISSING_START_DATE}"},
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(
        f"/panel/{tenant}/errors?code={PROJECT_MISSING_START_DATE}&"
    )

    async def decided_again() -> list[asyncpg.Record]:
        rows = await decisions_about(sandbox, tenant, scenario.dateless_project_id)
        return rows if len(rows) > len(before) else []

    after = await sandbox.wait_until(decided_again, WAIT)
    newest = after[-1]
    assert (newest["rule_id"], newest["verdict"]) == ("S-P1", "reject")  # still no start date
    assert newest["decision_id"] not in {r["decision_id"] for r in before}

    async def counted_twice() -> bool:
        rows = await sandbox.errors(tenant, open_only=True)
        return any(r["entity_id"] == scenario.dateless_project_id and r["occurrences"] >= 2 for r in rows)

    await sandbox.wait_until(counted_twice, WAIT)
    shown = await client.get(response.headers["location"])
    assert 'id="retried"' in shown.text


async def test_S_X1_retry_after_a_fix_the_webhook_missed_syncs_the_record_and_resolves_its_error(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    t = await sandbox.add_tenant()
    project = await t.svenn.projects.create({"display_id": "2026.20", "name": "Glemt dato"})

    async def entry() -> asyncpg.Record | None:
        return next((r for r in await sandbox.errors(t.tenant_id) if r["entity_id"] == project.id), None)

    await sandbox.wait_until(entry, WAIT)
    for subscription in await t.svenn.webhooks.list():  # the fix below reaches the engine by retry only
        await t.svenn.webhooks.delete(subscription.id)
    await t.svenn.projects.update(project.id, {"start_date": "2026-04-01"})

    await login(client, await grant(sandbox, t.tenant_id))
    page = await client.get(f"/panel/{t.tenant_id}/errors")
    assert project.id in page.text
    response = await client.post(
        f"/panel/{t.tenant_id}/errors/retry",
        data={"side": "svenn", "entity_type": "project", "entity_id": project.id, "csrf": csrf_of(page)},
    )
    assert response.status_code == 303 and "retried=" in response.headers["location"]
    created = await sandbox.wait_until(lambda: t.tripletex_project("2026.20"), WAIT)
    assert created["startDate"] == "2026-04-01"

    async def resolved() -> bool:
        found = await entry()
        return bool(found and found["resolved_at"] is not None)

    await sandbox.wait_until(resolved, WAIT)
    resolved_page = await client.get(f"/panel/{t.tenant_id}/errors", params={"state": "resolved"})
    assert project.id in resolved_page.text


async def test_retry_of_a_record_not_in_the_error_log_is_refused(
    client: httpx.AsyncClient, scenario: Scenario
) -> None:
    tenant = scenario.tenant.tenant_id
    await login(client, scenario.token)
    page = await client.get(f"/panel/{tenant}/errors")
    response = await client.post(
        f"/panel/{tenant}/errors/retry",
        data={
            "side": "svenn",
            "entity_type": "project",
            "entity_id": scenario.synced_project_id,
            "csrf": csrf_of(page),
        },
    )
    assert response.status_code == 404


async def test_readiness_view_shows_the_dry_run(client: httpx.AsyncClient, scenario: Scenario) -> None:
    await login(client, scenario.token)
    page = await client.get(f"/panel/{scenario.tenant.tenant_id}/readiness")
    assert page.status_code == 200 and 'id="readiness-counts"' in page.text
    assert "S-P1" in page.text and "S-C1" in page.text  # the two records the rules reject
    assert scenario.dateless_project_id in page.text


async def test_revoking_a_token_ends_its_sessions(
    client: httpx.AsyncClient, sandbox: Sandbox, scenario: Scenario
) -> None:
    tenant = scenario.tenant.tenant_id
    connection = await asyncpg.connect(sandbox.settings.database_url)
    try:
        made = await access.grant(connection, tenant, "short-lived")
        await login(client, made.token)
        assert (await client.get(f"/panel/{tenant}/")).status_code == 200
        assert await access.revoke(connection, tenant, made.access_id) == 1
    finally:
        await connection.close()
    after = await client.get(f"/panel/{tenant}/")
    assert after.status_code == 303 and after.headers["location"] == "/panel/login"
    assert (await login(client, made.token)).status_code == 401
    assert (await login(client, scenario.token)).status_code == 303  # the tenant's other token still works


async def test_decision_log_keeps_the_newest_decisions_of_each_tenant(settings: Settings) -> None:
    connection = await asyncpg.connect(settings.database_url)
    try:
        await migrate(connection)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        busy, quiet = "retention-busy-" + _suffix(), "retention-quiet-" + _suffix()

        def decision(tenant: str, n: int) -> DecisionRecord:
            cause = uuid.uuid4()
            return DecisionRecord(
                tenant_id=tenant,
                correlation_id=cause,
                decision_id=uuid.uuid4(),
                cause_event_id=cause,
                source=SourceSystem.SVENN,
                entity_type=EntityType.PROJECT,
                entity_id=f"p{n}",
                rule_id="S-P1",
                verdict=Verdict.SKIP,
                reason="test",
                decided_at=start + timedelta(seconds=n),
            )

        first = [decision(busy, n) for n in range(5)] + [decision(quiet, n) for n in range(2)]
        async with connection.transaction():
            await decision_log.apply(connection, first, keep=3)
        async with connection.transaction():
            await decision_log.apply(connection, first[:5], keep=3)  # a repeat adds nothing

        async def kept(tenant: str) -> list[str]:
            rows = await connection.fetch(
                "SELECT entity_id FROM decision_log WHERE tenant_id = $1 ORDER BY decided_at", tenant
            )
            return [r["entity_id"] for r in rows]

        assert await kept(busy) == ["p2", "p3", "p4"]
        assert await kept(quiet) == ["p0", "p1"]
    finally:
        await connection.close()


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def test_cli_grant_prints_a_token_once_and_stores_only_its_hash(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.cli import app

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    tenant = "cli-" + _suffix()
    runner = CliRunner()
    granted = runner.invoke(app, ["panel", "grant", "--tenant", tenant, "--label", "support"])
    assert granted.exit_code == 0, granted.output
    token = re.search(r"token:\s+(\S+)", granted.output)
    assert token is not None

    async def stored() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(settings.database_url)
        try:
            return await connection.fetch("SELECT * FROM panel_access WHERE tenant_id = $1", tenant)
        finally:
            await connection.close()

    (row,) = asyncio.run(stored())
    assert row["token_hash"] == access.token_hash(token.group(1))
    assert token.group(1) not in str(dict(row))

    listed = runner.invoke(app, ["panel", "list", "--tenant", tenant])
    assert (
        row["access_id"] in listed.output
        and "active" in listed.output
        and token.group(1) not in listed.output
    )
    assert runner.invoke(app, ["panel", "revoke", "--tenant", tenant]).exit_code != 0  # --id or --all
    revoked = runner.invoke(app, ["panel", "revoke", "--tenant", tenant, "--all"])
    assert revoked.exit_code == 0 and "revoked 1" in revoked.output
    (row,) = asyncio.run(stored())
    assert row["revoked_at"] is not None


async def test_retry_reads_a_tripletex_record_back_as_its_ingest_does_and_it_is_decided_again(
    sandbox: Sandbox, scenario: Scenario
) -> None:
    t = scenario.tenant
    created = await t.new_tripletex_project("2026.30", "Fra Tripletex")
    await sandbox.wait_until(lambda: t.svenn.projects.find_top_level_by_display_id("2026.30"), WAIT)
    tripletex_id = str(created["id"])
    current = await fetch_event(
        sandbox.tenants,
        sandbox.runtime.tripletex_clients,
        t.tenant_id,
        SourceSystem.TRIPLETEX,
        EntityType.PROJECT,
        tripletex_id,
    )
    assert current.entity_id == tripletex_id and current.snapshot is not None
    assert current.snapshot.kind == "project" and current.snapshot.number == "2026.30"
    assert current.source_version is not None
    assert current.event_id == change_event_id(
        t.tenant_id, "tripletex", "project", tripletex_id, current.source_version
    )  # the id the webhook's event had: retry must not reuse it (it would be absorbed as a repeat)

    before = await decisions_about(sandbox, t.tenant_id, tripletex_id)
    event = await retry(
        sandbox.tenants,
        sandbox.runtime.tripletex_clients,
        sandbox.runtime.publisher,
        t.tenant_id,
        SourceSystem.TRIPLETEX,
        EntityType.PROJECT,
        tripletex_id,
    )
    assert event.event_id != current.event_id and event.source_version == current.source_version

    async def decided() -> list[asyncpg.Record]:
        rows = await decisions_about(sandbox, t.tenant_id, tripletex_id)
        return [r for r in rows if r["cause_event_id"] == event.event_id]

    (decision,) = await sandbox.wait_until(decided, WAIT)
    assert len(await decisions_about(sandbox, t.tenant_id, tripletex_id)) == len(before) + 1
    assert decision["verdict"] == "skip"  # nothing changed since the sync: the engine's own state
