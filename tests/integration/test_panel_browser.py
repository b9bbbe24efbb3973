"""The integration panel in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright's own browser downloads are not used (they cannot be fetched here): ``make browser``
installs Debian's ``chromium`` and the test launches that binary. The data comes from the engine
(``Sandbox``); the test signs in, visits every view, filters the error log, retries a record,
searches the links, is refused another tenant's page, and keeps a screenshot of each view in
``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from contracts.error_codes import CUSTOMER_NON_NUMERIC_ID, PROJECT_MISSING_START_DATE
from services.core.settings import Settings
from services.sandbox import Sandbox
from tests.integration.panel_scenario import WAIT, Scenario, decisions_about, produce

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
async def sandbox(settings: Settings) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings, tenant_prefix="panel-ui") as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def snap(page: Page, view: str) -> None:
    path = SCREENSHOTS / f"{view}.png"
    png = await page.screenshot(path=str(path), full_page=True)  # Playwright makes the directories
    assert png.startswith(b"\x89PNG")
    print(f"screenshot: {path}")


async def test_panel_in_a_browser_every_view_filters_retry_search_and_tenant_refusal(
    sandbox: Sandbox, browser: Browser
) -> None:
    scenario: Scenario = await produce(sandbox, sandbox.tenant)
    other = await sandbox.add_tenant()
    tenant = scenario.tenant.tenant_id
    base = f"{sandbox.engine_url}/panel/{tenant}"
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    try:
        # Not signed in: the panel sends the browser to the login form.
        await page.goto(f"{base}/")
        await expect(page).to_have_url(f"{sandbox.engine_url}/panel/login")
        await page.fill("#token", "tsp_not_a_token")
        await page.click("button[type=submit]")
        await expect(page.locator("#login-error")).to_be_visible()
        await page.fill("#token", scenario.token)
        await snap(page, "login")
        await page.click("button[type=submit]")

        # Overview: sync status per entity type and the open errors.
        await expect(page).to_have_url(f"{base}/")
        await expect(page.locator("#tenant")).to_have_text(tenant)
        await expect(page.locator("#open-errors")).to_have_text("2")
        await expect(page.locator('#status tr[data-entity="project"]')).to_be_visible()
        await snap(page, "overview")

        # Error log: both errors, Norwegian with English alongside; then filtered by code.
        await page.click("nav >> text=Feillogg")
        await expect(page.locator("tr.error-row")).to_have_count(2)
        await expect(page.locator("tr.error-row .msg-no").first).not_to_be_empty()
        await expect(page.locator("tr.error-row .msg-en").first).not_to_be_empty()
        await snap(page, "errors")
        await page.select_option("select[name=code]", CUSTOMER_NON_NUMERIC_ID)
        await page.click("#filters button[type=submit]")
        await expect(page.locator("tr.error-row")).to_have_count(1)
        await expect(page.locator("tr.error-row")).to_have_attribute("data-code", CUSTOMER_NON_NUMERIC_ID)
        await snap(page, "errors-filtered")

        # Retry: the record is decided again (a new decision, by S-P1, since it still has no date).
        before = len(await decisions_about(sandbox, tenant, scenario.dateless_project_id))
        await page.select_option("select[name=code]", PROJECT_MISSING_START_DATE)
        await page.click("#filters button[type=submit]")
        await page.click("tr.error-row button.retry")
        await expect(page.locator("#retried")).to_contain_text(scenario.dateless_project_id)
        await expect(page.locator("select[name=code]")).to_have_value(PROJECT_MISSING_START_DATE)
        await snap(page, "errors-retried")

        async def decided_again() -> bool:
            return len(await decisions_about(sandbox, tenant, scenario.dateless_project_id)) > before

        await sandbox.wait_until(decided_again, WAIT)

        # Decisions: the rule id, verdict and reason of each, the retry's among them.
        await page.click("nav >> text=Beslutninger")
        await expect(page.locator('tr.decision-row[data-rule="S-P4"]').first).to_be_visible()
        await page.fill("input[name=entity_id]", scenario.dateless_project_id)
        await page.click("#decision-filters button[type=submit]")
        rows = page.locator("tr.decision-row")
        await expect(rows).to_have_count(before + 1)
        await expect(rows.first).to_have_attribute("data-rule", "S-P1")
        await snap(page, "decisions")

        # Links: searched by name, then by a number nothing has.
        await page.click("nav >> text=Koblinger")
        await expect(page.locator("tr.link-row")).to_have_count(2)  # the project and the numeric customer
        await page.fill("input[name=q]", "kontorbygg")
        await page.click("#search button[type=submit]")
        await expect(page.locator("tr.link-row")).to_have_count(1)
        await expect(page.locator("tr.link-row")).to_contain_text(str(scenario.tripletex_project_id))
        await snap(page, "links")
        await page.fill("input[name=q]", "0000.00")
        await page.click("#search button[type=submit]")
        await expect(page.locator("#no-links")).to_be_visible()

        # Readiness report (dry run against both sides).
        await page.click("nav >> text=Klarhet")
        await expect(page.locator("#readiness-counts")).to_be_visible()
        await expect(page.locator("#readiness-items")).to_contain_text("S-P1")
        await snap(page, "readiness")

        # Another tenant's panel is refused, and shows nothing of it.
        response = await page.goto(f"{sandbox.engine_url}/panel/{other.tenant_id}/errors")
        assert response is not None and response.status == 403
        await expect(page.locator("#denied")).to_be_visible()
        assert other.tenant_id not in re.sub(r"\s+", " ", await page.inner_text("main"))
        await snap(page, "other-tenant-refused")

        # Signing out ends the session.
        await page.click("text=Logg ut")
        await expect(page).to_have_url(f"{sandbox.engine_url}/panel/login")
        await page.goto(f"{base}/")
        await expect(page).to_have_url(f"{sandbox.engine_url}/panel/login")
    finally:
        await context.close()
