"""The dashboard's mandates page shows what the database holds: mandates per state,
the merchants with their certification, the active mandates and what each spent; an
operator certifies and decertifies a merchant from it (CSRF-checked, audited), in a
real browser too, in English and in French; another platform's operator sees none of it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from sika.dashboard import i18n
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, TIMEOUT_MS, form_token, sign_in
from tests.mandates.conftest import Cast, Sessions, act, create, scalar
from tests.support.browser import chromium
from tests.support.ledger import snapshot
from tests.support.operations import row_counts
from tests.support.server import live_api


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def shown(client: httpx.AsyncClient, cast: Cast) -> dict[str, str]:
    """One active mandate that spent 3,000 of 20,000, one revoked."""
    active = await create(client, cast, 20_000)
    body = {"merchant_id": cast.school["id"], "amount_minor": 3_000, "reference": "term 1"}
    assert (await act(client, active, "purchases", cast.beneficiary.headers, body)).status_code == 201
    party = await client.post(
        "/v1/parties", json={"display_name": "Second", "type": "individual", "country": "SN"}, headers=cast.platform
    )
    revoked = await create(client, cast, 1_000, beneficiary_party_id=party.json()["id"])
    assert (await act(client, revoked, "revoke", cast.platform)).status_code == 200
    return {"active": active["id"], "revoked": revoked["id"]}


def _rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.DOTALL)
    return re.findall(r'<tr data-id="([^"]+)"', table.group(1)) if table else []


def _counts(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-status="(\w+)"><td>[^<]*</td><td class="num">([^<]*)</td>', page))


async def test_the_page_shows_states_merchants_and_consumption(
    client: httpx.AsyncClient, cast: Cast, shown: dict[str, str]
) -> None:
    assert (await sign_in(client, cast.admin["Authorization"].split()[1])).status_code == 303
    response = await client.get(f"{DASHBOARD}/mandates")
    assert response.status_code == 200, response.text
    page = response.text
    assert _counts(page) == {"active": "1", "consumed": "0", "expired": "0", "revoked": "1"}
    assert _rows(page, "merchants") == [cast.pharmacy["id"], cast.school["id"]], "the uncertified first"
    assert _rows(page, "active-mandates") == [shown["active"]]
    text = pages.text(page)
    row = re.search(rf"{shown['active']}.*?UTC", text)
    assert row is not None
    assert re.findall(r"[0-9,]+ XOF", row.group(0)) == ["20,000 XOF", "3,000 XOF", "17,000 XOF"]

    french = pages.text((await client.get(f"{DASHBOARD}/mandates", headers={"Accept-Language": "fr"})).text)
    assert "Mandats et commerçants" in french
    assert "Frais de scolarité" in french
    assert "17 000 XOF" in french
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    leftover = sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", french))
    assert leftover == []


async def test_another_platforms_operator_sees_none_of_it(
    client: httpx.AsyncClient, cast: Cast, shown: dict[str, str]
) -> None:
    other = await client.post(
        "/v1/platforms", json={"name": "Other shop", "default_currency": "XOF"}, headers=cast.admin
    )
    key = await client.post(
        "/v1/api-keys",
        json={"name": "other support", "scopes": ["support"], "platform_id": other.json()["id"]},
        headers=cast.admin,
    )
    assert (await sign_in(client, key.json()["secret"])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/mandates")).text
    assert set(_counts(page).values()) == {"0"}
    assert _rows(page, "merchants") == _rows(page, "active-mandates") == []
    form = form_token(page)
    refused = await client.post(f"{DASHBOARD}/merchants/{cast.pharmacy['id']}/certify", data={"csrf_token": form})
    assert refused.status_code == 404


async def test_an_operator_certifies_and_decertifies_from_the_page(
    client: httpx.AsyncClient, cast: Cast, shown: dict[str, str], sessions: Sessions
) -> None:
    assert (await sign_in(client, cast.support["Authorization"].split()[1])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/mandates")).text
    action = f"{DASHBOARD}/merchants/{cast.pharmacy['id']}/certify"
    before = await snapshot(sessions), await row_counts(sessions)
    forged = await client.post(action, data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await snapshot(sessions), await row_counts(sessions)) == before

    done = await client.post(action, data={"csrf_token": form_token(page)})
    assert done.status_code == 303
    assert done.headers["location"] == f"{DASHBOARD}/mandates?changed={cast.pharmacy['id']}"
    assert (await client.get(f"/v1/merchants/{cast.pharmacy['id']}", headers=cast.platform)).json()["certified"]
    undone = await client.post(
        f"{DASHBOARD}/merchants/{cast.pharmacy['id']}/decertify", data={"csrf_token": form_token(page)}
    )
    assert undone.status_code == 303
    assert not (await client.get(f"/v1/merchants/{cast.pharmacy['id']}", headers=cast.platform)).json()["certified"]
    audited = await scalar(
        sessions,
        "SELECT array_agg(action || ' ' || actor ORDER BY seq) FROM audit_events WHERE entity_id = :id",
        id=cast.pharmacy["id"],
    )
    support_key = await scalar(
        sessions, "SELECT actor FROM audit_events WHERE entity_id = :id LIMIT 1", id=cast.school["id"]
    )
    assert audited == [f"merchant.certified {support_key}", f"merchant.decertified {support_key}"]


async def test_in_a_real_browser_an_operator_certifies_then_reads_it_in_french(
    browser: Browser, cast: Cast, shown: dict[str, str], database_url: str, sessions: Sessions
) -> None:
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page: Page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/mandates")
        await page.get_by_label("API key").fill(cast.support["Authorization"].split()[1])
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{base_url}/dashboard/mandates")
        await expect(page.locator("#active-mandates tr[data-id]")).to_have_count(1)
        pharmacy = page.locator(f'#merchants tr[data-id="{cast.pharmacy["id"]}"]')
        await expect(pharmacy).to_have_attribute("data-certified", "no")
        await pharmacy.get_by_role("button", name="Certify").click()
        await expect(page.get_by_role("status")).to_have_text(f"Merchant {cast.pharmacy['id']} updated.")
        await expect(pharmacy).to_have_attribute("data-certified", "yes")

        await page.get_by_role("link", name="FR", exact=True).click()
        await expect(page.get_by_role("heading", name="Mandats et commerçants", exact=True)).to_be_visible()
        await expect(page.get_by_role("heading", name="Mandats actifs (1)")).to_be_visible()
        await pharmacy.get_by_role("button", name="Retirer la certification").click()
        await expect(pharmacy).to_have_attribute("data-certified", "no")
        await context.close()
    actions = await scalar(
        sessions,
        "SELECT array_agg(action ORDER BY seq) FROM audit_events WHERE entity_id = :id",
        id=cast.pharmacy["id"],
    )
    assert actions == ["merchant.certified", "merchant.decertified"]
