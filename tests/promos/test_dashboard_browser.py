"""The promo codes page in a real browser (headless Chromium, as tests/dashboard):
an operator signs in, opens Promo codes from the navigation, sees a code with
its uses against its maximum and its state, and reads the page in French."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.dashboard.conftest import TIMEOUT_MS
from tests.promos.conftest import code, reserve
from tests.support.browser import chromium
from tests.support.server import live_api

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_an_operator_reads_the_promo_codes_page_in_english_and_french(
    browser: Browser, sessions: Sessions, parties: list[str], database_url: str
) -> None:
    promo = await code(sessions, code="RENTREE", max_redemptions=5)
    await reserve(sessions, promo, "subject_1", parties[0])
    support = await make_key(sessions, Scope.support)
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        page: Page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/login")
        await page.get_by_label("API key").fill(support)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("navigation").get_by_role("link", name="Promo codes", exact=True).click()
        await expect(page.get_by_role("heading", name="Promo codes", exact=True)).to_be_visible()
        row = page.locator(f'#promo-codes tr[data-id="{promo.id}"]')
        await expect(row).to_contain_text("RENTREE")
        await expect(row.locator(".uses")).to_have_text("1 / 5")
        await expect(row.locator(".state")).to_have_text("active")
        await page.goto(f"{base_url}/dashboard/promo-codes?lang=fr")
        await expect(page.get_by_role("heading", name="Codes promo", exact=True)).to_be_visible()
        await expect(row.locator(".state")).to_have_text("actif")
        await context.close()
