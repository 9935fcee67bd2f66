"""The support flow on a phone, in a real browser (Chromium), against a live API process
that asks the providers' sandbox: sign in as support, search the customer's phone number,
open the collection, read its timeline, re-run its reconciliation with a reason, see the
outcome and the audit row, switch to French; at 390 pixels wide, nothing scrolls sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock
from tests.dashboard import tenants
from tests.dashboard.conftest import TIMEOUT_MS, screenshot_dir
from tests.dashboard.tenants import Tenants
from tests.support.sandbox import LiveSandbox
from tests.support.server import live_api

SPOKEN_PHONE = "07 00 00 01 01"
"""How the customer reads out the number the tenants' collections were made with."""
REASON = "Awa called: her 2 500 F never reached the wallet"
PHONE_WIDTH = 390
PROVIDER_SETTINGS = (
    "PAYSTACK_BASE_URL",
    "FEDAPAY_BASE_URL",
    "STRIPE_BASE_URL",
    "PAYSTACK_SECRET_KEY",
    "FEDAPAY_SECRET_KEY",
    "FEDAPAY_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
)


@pytest.fixture
async def two(app: FastAPI, sessions: async_sessionmaker[AsyncSession], live: LiveSandbox) -> Tenants:
    return await tenants.build(sessions, provider_settings=live.settings, now=clock.now())


def provider_env(live: LiveSandbox) -> dict[str, str]:
    """The live API process asks the same sandbox the tenants' collections were made at."""
    env = {}
    for name in PROVIDER_SETTINGS:
        value = getattr(live.settings, name)
        env[f"SIKA_{name}"] = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return env


async def fits_a_phone(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page scrolls sideways on a phone: {width}px"


async def test_support_finds_the_collection_reconciles_it_and_reads_the_audit_on_a_phone(
    browser: Browser,
    two: Tenants,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    live: LiveSandbox,
    tmp_path: Path,
) -> None:
    screenshots = screenshot_dir(tmp_path)
    secret = await tenants.bound_key(sessions, Scope.support, platform_id=two.a.platform_id)
    with live_api(database_url, workers=1, env=provider_env(live)) as base_url:
        context = await browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, locale="en-US")
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/login")
        await page.get_by_label("API key").fill(secret)
        await page.get_by_role("button", name="Sign in").click()

        await page.get_by_role("navigation").get_by_role("link", name="Search", exact=True).click()
        await page.get_by_label("Id, phone number, email").fill(SPOKEN_PHONE)
        await page.get_by_role("button", name="Search", exact=True).click()
        found = page.locator("#found-collections li.hit")
        await expect(found).to_have_count(1)
        await found.first.get_by_role("link", name=two.a.collection_id).click()

        await expect(page.locator("#object-id")).to_have_text(two.a.collection_id)
        await expect(page.locator("#timeline li.entry").first).to_be_visible()
        await fits_a_phone(page)
        await page.screenshot(path=str(screenshots / "dashboard-collection-phone.png"), full_page=True)

        reconcile = page.locator("#action-reconcile")
        await reconcile.get_by_label("Reason").fill(REASON)
        await reconcile.get_by_role("button", name="Re-run reconciliation now").click()
        await expect(page.locator("#action-done")).to_have_text(
            "Reconciliation ran. The provider's answer moved it on."
        )
        await expect(page.locator("#object-status")).to_have_text("succeeded")
        audit = page.locator('#audit-rows tr[data-action="collection.reconciled"]')
        await expect(audit).to_contain_text(REASON)
        await fits_a_phone(page)
        await page.screenshot(path=str(screenshots / "dashboard-reconciled-phone.png"), full_page=True)

        await page.get_by_role("link", name="FR", exact=True).click()
        await expect(page.locator("#action-done")).to_have_text(
            "Le rapprochement a été relancé. La réponse du prestataire l'a fait avancer."
        )
        await expect(page.get_by_role("heading", name="Journal d'audit")).to_be_visible()
        await fits_a_phone(page)
        await page.screenshot(path=str(screenshots / "dashboard-reconciled-phone-fr.png"), full_page=True)
        await context.close()

    async with sessions() as session:
        reasons = await session.scalars(
            sa.text(
                "SELECT data->>'reason' FROM audit_events WHERE entity_id = :id"
                " AND action IN ('collection.reconcile_requested', 'collection.reconciled') ORDER BY seq"
            ),
            {"id": two.a.collection_id},
        )
        assert list(reasons) == [REASON, REASON]
    assert (screenshots / "dashboard-reconciled-phone.png").stat().st_size > 10_000
