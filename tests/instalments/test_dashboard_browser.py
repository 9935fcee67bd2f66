"""The instalments page in a real browser (headless Chromium, as tests/dashboard): an
operator signs in, opens Instalments from the navigation, sees a plan with its
instalments and states and the overdue one in the overdue list, and reads it in French."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from sika.core import clock, db
from sika.core.context import system_actor
from sika.instalments import service as instalments_service
from tests.dashboard.conftest import TIMEOUT_MS
from tests.instalments.conftest import Cast, Sessions, plan_body, today
from tests.support.browser import chromium
from tests.support.server import live_api


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_an_operator_reads_plans_and_the_overdue_list_in_english_and_french(
    browser: Browser, client: httpx.AsyncClient, cast: Cast, sessions: Sessions, database_url: str
) -> None:
    body = plan_body(cast, 4_000, 6_000)
    body["instalments"][0]["due_on"] = (today() - timedelta(days=10)).isoformat()
    made = await client.post("/v1/instalment-plans", json=body, headers=cast.platform)
    assert made.status_code == 201, made.text
    plan = made.json()
    late = plan["instalments"][0]["id"]
    async with db.transaction(sessions) as session:
        await instalments_service.advance(
            session, today=today(), grace_days=3, reminder_days=(), actor=system_actor("test"), now=clock.now()
        )
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page: Page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/login")
        await page.get_by_label("API key").fill(cast.support["Authorization"].split()[1])
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("navigation").get_by_role("link", name="Instalments", exact=True).click()
        await expect(page.get_by_role("heading", name="Instalment plans", exact=True)).to_be_visible()
        await expect(page.locator("#overdue-heading")).to_have_text("Overdue instalments (1)")
        await expect(page.locator(f'#overdue tr[data-id="{late}"]')).to_contain_text(plan["id"])
        row = page.locator(f'#plans tr[data-id="{plan["id"]}"]')
        await expect(row.locator(f'[data-instalment="{late}"]')).to_contain_text("overdue")
        await expect(row).to_contain_text("scheduled")
        await page.goto(f"{base_url}/dashboard/instalments?lang=fr")
        await expect(page.get_by_role("heading", name="Échéanciers", exact=True)).to_be_visible()
        await expect(page.locator("#overdue-heading")).to_have_text("Échéances en retard (1)")
        await expect(row.locator(f'[data-instalment="{late}"]')).to_contain_text("en retard")
        await context.close()
