"""The dashboard in a real browser: Debian's headless Chromium, driven by
Playwright, against a live API server (uvicorn in its own processes) on data
made through the services. It signs in, sees the overview and its chart,
acknowledges an alert by clicking, switches to French, and takes screenshots
(kept in ``$SIKA_DASHBOARD_SCREENSHOTS`` when set, for a person to look at).

Playwright's own browser download cannot run here, so it drives the
``chromium`` package, which ``scripts/test`` installs when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from playwright.async_api import Browser, ConsoleMessage, Page, Request, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from tests.dashboard.conftest import TIMEOUT_MS, screenshot_dir
from tests.dashboard.world import World
from tests.support.server import live_api


async def _acknowledged_by(sessions: async_sessionmaker[AsyncSession], alert_id: str) -> str | None:
    async with db.transaction(sessions) as session:
        found = await session.scalar(sa.text("SELECT acknowledged_by FROM alerts WHERE id = :id"), {"id": alert_id})
    return found if isinstance(found, str) else None


async def test_an_operator_signs_in_reads_the_chart_acknowledges_and_switches_to_french(
    browser: Browser,
    world: World,
    database_url: str,
    admin_secret: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    screenshots = screenshot_dir(tmp_path)
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page: Page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        console_errors: list[str] = []
        foreign: list[str] = []
        origin = urlsplit(base_url).netloc

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                console_errors.append(message.text)

        def on_request(request: Request) -> None:
            if urlsplit(request.url).netloc != origin:
                foreign.append(request.url)

        page.on("console", on_console)
        page.on("request", on_request)

        # Any page sends a visitor without a session to the sign-in form.
        await page.goto(f"{base_url}/dashboard/alerts")
        await expect(page).to_have_url(f"{base_url}/dashboard/login?next=%2Fdashboard%2Falerts")
        await page.screenshot(path=str(screenshots / "dashboard-login.png"))
        await page.get_by_label("API key").fill(admin_secret)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{base_url}/dashboard/alerts")

        await page.get_by_role("navigation").get_by_role("link", name="Overview", exact=True).click()
        await expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
        await expect(page.locator("#tile-alerts .tile-value")).to_have_text("3")
        await expect(page.locator("#tile-stuck .tile-value")).to_have_text("5")
        await expect(page.locator("#tile-ledger .tile-value")).to_have_text("ok")
        chart = page.locator("figure.chart svg")
        await expect(chart).to_be_visible()
        await expect(chart.locator("rect.bar")).to_have_count(42)
        box = await chart.bounding_box()
        assert box is not None
        assert box["width"] > 600
        assert box["height"] > 200
        # The stylesheet applied (a CSP refusal would leave bars black and the header white).
        bar_fill = await chart.locator("rect.bar-payouts").first.evaluate("bar => getComputedStyle(bar).fill")
        assert bar_fill == "rgb(224, 138, 44)"
        escrow_bars = chart.locator("rect.bar-escrows")
        await expect(escrow_bars).to_have_count(14)
        assert await escrow_bars.first.evaluate("bar => getComputedStyle(bar).fill") == "rgb(122, 79, 163)"
        yesterday = escrow_bars.nth(12)
        await expect(yesterday).to_have_attribute("data-value", "2")
        height = await yesterday.bounding_box()
        assert height is not None
        assert height["height"] > 40, "two escrows stand half the scale high"
        await expect(page.locator("figure.chart figcaption")).to_contain_text("Escrows (4)")
        header = await page.locator("header.top").evaluate("el => getComputedStyle(el).backgroundColor")
        assert header == "rgb(21, 77, 56)"
        await page.screenshot(path=str(screenshots / "dashboard-overview.png"), full_page=True)

        # Acknowledge the oldest open alert by clicking its button.
        alert_id = world.open_alert_ids[-1]
        await page.get_by_role("navigation").get_by_role("link", name="Alerts", exact=True).click()
        await expect(page.locator("tr[data-alert]")).to_have_count(3)
        await page.locator(f'tr[data-alert="{alert_id}"]').get_by_label("Reason").fill("Looked at the provider's page")
        await page.locator(f'tr[data-alert="{alert_id}"]').get_by_role("button", name="Acknowledge").click()
        await expect(page.get_by_role("status")).to_have_text(f"Alert {alert_id} acknowledged.")
        await expect(page.locator("tr[data-alert]")).to_have_count(2)
        acknowledged_by = await _acknowledged_by(sessions, alert_id)
        assert acknowledged_by is not None
        assert acknowledged_by.startswith("key:key_")
        await page.screenshot(path=str(screenshots / "dashboard-alerts.png"), full_page=True)

        # Switch to French: the choice holds on the next pages.
        await page.get_by_role("link", name="FR", exact=True).click()
        await expect(page.get_by_role("heading", name="Alertes", exact=True)).to_be_visible()
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await page.get_by_role("navigation").get_by_role("link", name="Vue d'ensemble", exact=True).click()
        await expect(page.get_by_role("heading", name="Santé du grand livre")).to_be_visible()
        await expect(page.locator("#tile-alerts .tile-value")).to_have_text("2")
        activity = "Encaissements, décaissements et séquestres par jour, 14 derniers jours (UTC)"
        await expect(page.get_by_role("heading", name=activity)).to_be_visible()
        await expect(page.locator("figure.chart figcaption")).to_contain_text("Séquestres (4)")
        await page.screenshot(path=str(screenshots / "dashboard-overview-fr.png"), full_page=True)
        await page.get_by_role("navigation").get_by_role("link", name="Paiements bloqués", exact=True).click()
        await expect(page.locator("#stuck-collections tr[data-id]")).to_have_count(4)
        await page.screenshot(path=str(screenshots / "dashboard-stuck-fr.png"), full_page=True)

        await page.get_by_role("button", name="Se déconnecter").click()
        await expect(page.get_by_text("Vous êtes déconnecté.")).to_be_visible()
        await page.goto(f"{base_url}/dashboard/")
        await expect(page).to_have_url(f"{base_url}/dashboard/login?next=%2Fdashboard%2F")
        await context.close()

    assert console_errors == [], "a CSP refusal or a broken resource shows up as a console error"
    assert foreign == [], "everything is served by Sika itself"
    for name in ("login", "overview", "alerts", "overview-fr", "stuck-fr"):
        assert (screenshots / f"dashboard-{name}.png").stat().st_size > 10_000
