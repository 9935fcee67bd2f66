"""The search page: an operator finds a payment by the customer's phone number, in
the platform in view only (a support key bound to a platform never finds another
platform's), in English and French; bad input says why and searches nothing. And
in a real browser at a phone's width: sign in as support, search a phone number
as a customer reads it out, see the collection."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock
from tests.dashboard import pages, tenants
from tests.dashboard.conftest import DASHBOARD, TIMEOUT_MS, screenshot_dir, sign_in
from tests.dashboard.tenants import Tenants
from tests.dashboard.world import SUCCESS_PHONE
from tests.support.sandbox import LiveSandbox
from tests.support.server import live_api

SPOKEN_PHONE = "07 00 00 01 01"
"""``SUCCESS_PHONE`` as a customer in Côte d'Ivoire reads it out: no country code."""


@pytest.fixture
async def two(app: FastAPI, sessions: async_sessionmaker[AsyncSession], live: LiveSandbox) -> Tenants:
    """Platforms A and B, each with a collection from ``SUCCESS_PHONE`` (made against the sandbox)."""
    return await tenants.build(sessions, provider_settings=live.settings, now=clock.now())


def _found(html: str, kind: str) -> list[str]:
    """The ids listed under ``kind`` on a results page, in page order."""
    section = re.search(rf'<section class="card" id="found-{kind}">(.*?)</section>', html, re.DOTALL)
    return re.findall(r'<li class="hit" data-id="([^"]+)">', section.group(1)) if section else []


async def test_a_global_operator_finds_both_platforms_collections_and_narrows_to_one(
    operator: httpx.AsyncClient, two: Tenants
) -> None:
    page = (await operator.get(f"{DASHBOARD}/search", params={"q": SUCCESS_PHONE})).text
    assert set(_found(page, "collections")) == {two.a.collection_id, two.b.collection_id}
    narrowed = await operator.get(f"{DASHBOARD}/search", params={"q": SPOKEN_PHONE, "platform": two.a.platform_id})
    assert _found(narrowed.text, "collections") == [two.a.collection_id]
    assert two.b.collection_id not in narrowed.text
    assert f'name="platform" value="{two.a.platform_id}"' in narrowed.text, "the form keeps the platform in view"


async def test_a_bound_support_key_finds_its_platform_only(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    a, b = two.a, two.b
    await sign_in(client, await tenants.bound_key(sessions, Scope.support, platform_id=a.platform_id))
    for query in (SUCCESS_PHONE, SPOKEN_PHONE, "0101"):
        for asked in (None, b.platform_id):
            params = {"q": query, **({"platform": asked} if asked else {})}
            page = await client.get(f"{DASHBOARD}/search", params=params)
            assert page.status_code == 200, page.text
            assert _found(page.text, "collections") == [a.collection_id], params
            for trace in (b.collection_id, b.party_id, b.wallet_id):
                assert trace not in page.text, (params, trace)
    for other in (b.collection_id, b.party_id, b.wallet_id):
        page = await client.get(f"{DASHBOARD}/search", params={"q": other})
        assert "Nothing found." in pages.text(page.text)
        assert other not in pages.text(page.text)


async def test_the_page_speaks_french(operator: httpx.AsyncClient, two: Tenants) -> None:
    page = (await operator.get(f"{DASHBOARD}/search", params={"q": SPOKEN_PHONE, "lang": "fr"})).text
    words = pages.text(page)
    assert "Encaissements (2)" in words
    assert "Lu comme : les derniers chiffres d'un numéro" in words
    assert "2\u202f500 XOF" in page


@pytest.mark.parametrize(
    ("params", "english", "french"),
    [
        ({"q": "x" * 201}, "at most 200 characters", "200 caractères au plus"),
        ({"q": "   ", "amount": "0"}, "above zero", "supérieur à zéro"),
        ({"amount": "12.5"}, "above zero", "supérieur à zéro"),
        ({"amount": "2500", "since": "21/11/2026"}, "YYYY-MM-DD", "AAAA-MM-JJ"),
        ({"amount": "2500", "since": "2026-11-20", "until": "2026-11-19"}, "start date", "date de début"),
    ],
)
async def test_bad_input_says_why(
    operator: httpx.AsyncClient, params: dict[str, str], english: str, french: str
) -> None:
    response = await operator.get(f"{DASHBOARD}/search", params=params)
    assert response.status_code == 422
    assert english in pages.text(response.text)
    assert 'id="found-' not in response.text
    assert french in pages.text((await operator.get(f"{DASHBOARD}/search", params={**params, "lang": "fr"})).text)


async def test_an_empty_form_searches_nothing(operator: httpx.AsyncClient) -> None:
    response = await operator.get(f"{DASHBOARD}/search")
    assert response.status_code == 200
    assert 'id="search-q"' in response.text
    assert 'id="understood"' not in response.text


async def test_support_searches_a_phone_number_on_a_phone_in_a_real_browser(
    browser: Browser, two: Tenants, sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    screenshots = screenshot_dir(tmp_path)
    secret = await tenants.bound_key(sessions, Scope.support, platform_id=two.a.platform_id)
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
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
        await expect(found.first).to_have_attribute("data-id", two.a.collection_id)
        await expect(found.first.locator(".hit-amount")).to_have_text("2,500 XOF")
        await expect(page.locator("body")).not_to_contain_text(two.b.collection_id)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
        await page.screenshot(path=str(screenshots / "dashboard-search.png"), full_page=True)

        await page.get_by_role("link", name="FR", exact=True).click()
        await expect(page.get_by_role("heading", name="Encaissements (1)")).to_be_visible()
        await expect(page.get_by_label("Identifiant, numéro de téléphone")).to_have_value(SPOKEN_PHONE)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await page.screenshot(path=str(screenshots / "dashboard-search-fr.png"), full_page=True)
        await context.close()
    assert (screenshots / "dashboard-search.png").stat().st_size > 10_000
