"""The object pages (collection, payout, hold, wallet, party) at ``/dashboard/<kind>s/{id}``:
each shows its facts and its timeline, links to the objects it belongs to, speaks
French, and is the 404 page for another platform's object, whatever the address asks."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock
from tests.conftest import make_key
from tests.dashboard import pages, tenants
from tests.dashboard.conftest import DASHBOARD, TIMEOUT_MS, screenshot_dir, sign_in
from tests.dashboard.tenants import Tenants
from tests.dashboard.world import SUCCESS_PHONE, World
from tests.support.sandbox import LiveSandbox
from tests.support.server import live_api


@pytest.fixture
async def two(app: FastAPI, sessions: async_sessionmaker[AsyncSession], live: LiveSandbox) -> Tenants:
    """Platforms A and B, each with a party, its wallet, a captured hold and a collection (against the sandbox)."""
    return await tenants.build(sessions, provider_settings=live.settings, now=clock.now())


def _timeline(html: str) -> list[tuple[str, str]]:
    """(kind, text) of each timeline entry, in page order."""
    found = re.search(r'<section class="card" id="timeline">(.*?)</section>', html, re.DOTALL)
    assert found is not None, html[:2000]
    entries = re.findall(r'<li class="entry" data-kind="(\w+)"[^>]*>(.*?)</li>', found.group(1), re.DOTALL)
    return [(kind, pages.text(body)) for kind, body in entries]


def _facts(html: str) -> str:
    found = re.search(r'<section class="card" id="facts">(.*?)</section>', html, re.DOTALL)
    assert found is not None, html[:2000]
    return found.group(1)


async def test_a_collection_page_shows_its_facts_and_its_timeline(operator: httpx.AsyncClient, two: Tenants) -> None:
    a = two.a
    page = await operator.get(f"{DASHBOARD}/collections/{a.collection_id}")
    assert page.status_code == 200, page.text
    facts = _facts(page.text)
    assert "2,500 XOF" in pages.text(facts)
    assert a.party_id in facts
    assert a.wallet_id in facts
    steps = _timeline(page.text)
    assert steps[0][0] == "state_change"
    assert "State changed" in steps[0][1]
    assert "initiated" in steps[0][1]
    assert "through the API" in " ".join(text for _, text in steps)
    assert two.b.collection_id not in page.text


async def test_search_results_link_to_the_collection_page(operator: httpx.AsyncClient, two: Tenants) -> None:
    page = await operator.get(f"{DASHBOARD}/search", params={"q": SUCCESS_PHONE, "platform": two.a.platform_id})
    link = f'href="{DASHBOARD}/collections/{two.a.collection_id}?platform={two.a.platform_id}"'
    assert link in page.text


async def test_the_collection_page_speaks_french(operator: httpx.AsyncClient, two: Tenants) -> None:
    page = await operator.get(f"{DASHBOARD}/collections/{two.a.collection_id}", params={"lang": "fr"})
    words = pages.text(page.text)
    assert "Encaissement" in words
    assert "Chronologie, du plus ancien au plus récent" in words
    assert "2\u202f500 XOF" in page.text
    assert "Changement d'état" in words
    assert "par l'API" in words


async def test_another_platform_s_collection_is_not_found(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    await sign_in(client, await tenants.bound_key(sessions, Scope.support, platform_id=two.a.platform_id))
    assert (await client.get(f"{DASHBOARD}/collections/{two.a.collection_id}")).status_code == 200
    for path in (
        f"/collections/{two.b.collection_id}",
        f"/collections/{two.b.collection_id}?platform={two.b.platform_id}",
        "/collections/col_aaaaaaaaaaaaaaaaaaaaaaaaaa",
        "/collections/not-an-id",
    ):
        page = await client.get(f"{DASHBOARD}{path}")
        assert page.status_code == 404, path
        assert "There is no such page." in pages.text(page.text)
        assert two.b.party_id not in page.text


async def _hold_of(sessions: async_sessionmaker[AsyncSession], wallet_id: str) -> str:
    async with sessions() as session:
        found = await session.scalar(sa.text("SELECT id FROM wallet_holds WHERE wallet_id = :id"), {"id": wallet_id})
    assert isinstance(found, str)
    return found


def _links(html: str) -> set[str]:
    return set(re.findall(rf'href="{DASHBOARD}(/(?:collections|payouts|holds|wallets|parties)/[^"?]+)', html))


async def test_a_hold_links_to_its_wallet_which_links_to_its_party(
    operator: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    a = two.a
    hold_id = await _hold_of(sessions, a.wallet_id)
    hold = await operator.get(f"{DASHBOARD}/holds/{hold_id}")
    assert hold.status_code == 200, hold.text
    assert {f"/wallets/{a.wallet_id}", f"/parties/{a.party_id}"} <= _links(_facts(hold.text))
    assert "1,250 XOF" in pages.text(_facts(hold.text))
    steps = [kind for kind, _ in _timeline(hold.text)]
    assert steps == ["state_change", "ledger_transfer", "state_change", "ledger_transfer"]

    wallet = await operator.get(f"{DASHBOARD}/wallets/{a.wallet_id}")
    assert wallet.status_code == 200, wallet.text
    assert f"/parties/{a.party_id}" in _links(_facts(wallet.text))
    balance = tenants.TOP_UP_MINOR - a.fee_minor
    assert f"{balance:,} XOF" in pages.text(_facts(wallet.text))
    moved = [text for kind, text in _timeline(wallet.text) if kind == "ledger_transfer"]
    assert len(moved) == 3, "top-up, hold placed, hold captured"
    assert "Timeline, newest first" in pages.text(wallet.text)

    party = await operator.get(f"{DASHBOARD}/parties/{a.party_id}")
    assert party.status_code == 200, party.text
    assert f"/wallets/{a.wallet_id}" in _links(_facts(party.text))
    assert "Awa Traoré" in pages.text(_facts(party.text))
    assert f"/collections/{a.collection_id}" in _links(party.text), "its collection, linked from its timeline"
    assert "Its payment or escrow" in pages.text(party.text)
    for page in (hold, wallet, party):
        assert two.b.party_id not in page.text


async def test_every_object_page_speaks_french(
    operator: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    a = two.a
    hold_id = await _hold_of(sessions, a.wallet_id)
    for path, title in (
        (f"/holds/{hold_id}", "Réservation"),
        (f"/wallets/{a.wallet_id}", "Portefeuille"),
        (f"/parties/{a.party_id}", "Partie"),
        (f"/collections/{a.collection_id}", "Encaissement"),
    ):
        page = await operator.get(f"{DASHBOARD}{path}", params={"lang": "fr"})
        assert page.status_code == 200, path
        words = pages.text(page.text)
        assert f"{title} " in words, path
        assert "Chronologie" in words, path
        assert "Timeline" not in words, path


async def test_another_platform_s_hold_wallet_and_party_are_not_found(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    b = two.b
    b_hold = await _hold_of(sessions, b.wallet_id)
    await sign_in(client, await tenants.bound_key(sessions, Scope.support, platform_id=two.a.platform_id))
    assert (await client.get(f"{DASHBOARD}/parties/{two.a.party_id}")).status_code == 200
    for path in (f"/holds/{b_hold}", f"/wallets/{b.wallet_id}", f"/parties/{b.party_id}"):
        for asked in ("", f"?platform={b.platform_id}"):
            page = await client.get(f"{DASHBOARD}{path}{asked}")
            assert page.status_code == 404, path
            assert "There is no such page." in pages.text(page.text)
            assert "Moussa" not in page.text, "nothing of B's is shown, only the address asked echoed back"


async def test_support_reads_each_object_page_on_a_phone_in_english_and_french(
    browser: Browser,
    world: World,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    """Signed in as support at 390 px: the collection, the payout, its hold, then from the hold
    its wallet and from the wallet its party, by their links; each in one column, in English then French."""
    screenshots = screenshot_dir(tmp_path)
    payout_id = next(iter(world.payouts))
    async with sessions() as session:
        hold_id = await session.scalar(
            sa.text("SELECT hold_id FROM payments_payouts WHERE id = :id"), {"id": payout_id}
        )
    secret = await make_key(sessions, Scope.support)
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/login")
        await page.get_by_label("API key").fill(secret)
        await page.get_by_role("button", name="Sign in").click()
        await page.goto(f"{base_url}/dashboard/collections/{next(iter(world.collections))}")
        await _read(page, "Collection", "Encaissement", screenshots / "object-collection")
        await page.goto(f"{base_url}/dashboard/payouts/{payout_id}")
        await _read(page, "Payout", "Décaissement", screenshots / "object-payout")
        await page.locator("#facts").get_by_role("link", name=str(hold_id)).click()
        await _read(page, "Hold", "Réservation", screenshots / "object-hold")
        await page.locator("#facts").get_by_role("link", name=world.wallet_id).click()
        await _read(page, "Wallet", "Portefeuille", screenshots / "object-wallet")
        await page.locator("#facts").get_by_role("link", name=world.party_id).click()
        await _read(page, "Party", "Partie", screenshots / "object-party")
        await context.close()
    assert (screenshots / "object-party-fr.png").stat().st_size > 10_000


async def _read(page: Page, english: str, french: str, shot: Path) -> None:
    """The page in English, then in French (the language link), each one column wide."""
    for language, title, timeline in (("EN", english, "Timeline"), ("FR", french, "Chronologie")):
        if language == "FR":
            await page.get_by_role("link", name="FR", exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(title)
        await expect(page.locator("#timeline h2")).to_contain_text(timeline)
        await expect(page.locator("#timeline li.entry").first).to_be_visible()
        # Measured once the stylesheet is in: a busy machine can show the heading before it is.
        await page.wait_for_load_state("load")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{title}: the page scrolls sideways on a phone: {width}px"
        await page.screenshot(path=f"{shot}-{language.lower()}.png", full_page=True)
    await page.get_by_role("link", name="EN", exact=True).click()
