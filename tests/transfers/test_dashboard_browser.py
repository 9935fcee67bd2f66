"""The transfers page in a real browser (headless Chromium, as tests/dashboard):
an operator signs in, opens Transfers from the navigation, sees the transfer
and the fraud alert it raised, and reads the page in French."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.dashboard.conftest import TIMEOUT_MS
from tests.support.browser import chromium
from tests.support.server import live_api
from tests.transfers.conftest import Cast, sent, set_settings


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_an_operator_reads_the_transfers_page_in_english_and_french(
    browser: Browser, client: httpx.AsyncClient, cast: Cast, database_url: str
) -> None:
    await set_settings(client, cast, fraud_rules={"new_recipient": {"above_minor": 50_000}})
    transfer = await sent(client, cast.platform, cast.sender, cast.recipient, 60_000, reference="rent")
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page: Page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/login")
        await page.get_by_label("API key").fill(cast.support["Authorization"].split()[1])
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("navigation").get_by_role("link", name="Transfers", exact=True).click()
        await expect(page.get_by_role("heading", name="Transfers between parties", exact=True)).to_be_visible()
        await expect(page.locator(f'#transfers tr[data-id="{transfer["id"]}"]')).to_contain_text("rent")
        await expect(page.locator("#fraud-heading")).to_have_text("Open fraud alerts (1)")
        await expect(page.locator("#fraud-alerts")).to_contain_text(transfer["id"])
        await page.goto(f"{base_url}/dashboard/transfers?lang=fr")
        await expect(page.get_by_role("heading", name="Transferts entre parties", exact=True)).to_be_visible()
        await expect(page.locator("#fraud-heading")).to_have_text("Alertes antifraude ouvertes (1)")
        await context.close()
