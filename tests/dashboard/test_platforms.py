"""The dashboard and tenancy: a global operator sees every platform and may
filter on one (``?platform=``, the header's select); an operator whose key is
bound to a platform sees that platform only, on every page, whatever the
address asks, and cannot acknowledge another platform's alert. The overview
lists each platform's fees."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.wallets.service import fee_account_id
from tests.dashboard import pages, tenants
from tests.dashboard.conftest import DASHBOARD, TIMEOUT_MS, form_token, screenshot_dir, sign_in
from tests.dashboard.tenants import Tenant, Tenants
from tests.support.sandbox import LiveSandbox
from tests.support.server import live_api

PAGES = ("/", "/alerts?status=all", "/payments/stuck", "/webhooks")


@pytest.fixture
async def two(app: FastAPI, sessions: async_sessionmaker[AsyncSession], live: LiveSandbox) -> Tenants:
    return await tenants.build(sessions, provider_settings=live.settings, now=clock.now())


async def _pages(client: httpx.AsyncClient, *, platform: str | None = None) -> dict[str, str]:
    """Every page, as ``client`` sees it (with ``?platform=`` when given)."""
    shown = {}
    for path in PAGES:
        joiner = "&" if "?" in path else "?"
        response = await client.get(
            DASHBOARD + path + (f"{joiner}{urlencode({'platform': platform})}" if platform else "")
        )
        assert response.status_code == 200, (path, response.text[:2000])
        shown[path] = response.text
    return shown


def _traces(tenant: Tenant) -> tuple[str, ...]:
    """What would betray that the dashboard showed ``tenant``'s rows."""
    return (
        tenant.party_id,
        tenant.collection_id,
        tenant.alert_id,
        tenant.alert_message,
        fee_account_id(tenant.platform_id, "XOF"),
    )


def _assert_absent(shown: dict[str, str], tenant: Tenant, *also: str) -> None:
    for path, html in shown.items():
        words = pages.text(html)
        for trace in (*_traces(tenant), *also):
            assert trace not in html, (path, trace)
            assert trace not in words, (path, trace)


def _fee_rows(overview: str) -> list[str]:
    return re.findall(r'<tr data-fee-account="([^"]+)">', overview)


async def _alert_state(sessions: async_sessionmaker[AsyncSession], alert_id: str) -> tuple[object, object]:
    async with db.transaction(sessions) as session:
        row = (
            await session.execute(
                sa.text("SELECT acknowledged_at, acknowledged_by FROM alerts WHERE id = :id"), {"id": alert_id}
            )
        ).one()
    return row[0], row[1]


async def _acknowledgements(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with db.transaction(sessions) as session:
        rows = await session.scalars(
            sa.text("SELECT entity_id FROM audit_events WHERE action = 'alert.acknowledged' ORDER BY seq")
        )
        return list(rows)


async def test_a_global_operator_sees_every_platform_and_narrows_to_one(
    operator: httpx.AsyncClient, two: Tenants
) -> None:
    a, b = two.a, two.b
    everything = await _pages(operator)
    for tenant in (a, b):
        assert tenant.alert_id in everything["/alerts?status=all"]
        assert tenant.alert_message in pages.text(everything["/alerts?status=all"])
        assert tenant.collection_id in everything["/payments/stuck"]
        assert tenant.party_id in everything["/payments/stuck"]
    overview = everything["/"]
    options = re.findall(r'<option value="([^"]*)"', overview)
    assert options[0] == "", "All platforms comes first"
    assert {a.platform_id, b.platform_id} <= set(options)
    assert '<option value="" selected>All platforms</option>' in overview
    assert pages.tile(overview, "alerts")[0] == "2"
    assert pages.tile(overview, "stuck")[0] == "2"
    assert "tile-ledger" in overview

    narrowed = await _pages(operator, platform=a.platform_id)
    _assert_absent(narrowed, b)
    assert a.alert_id in narrowed["/alerts?status=all"]
    assert a.collection_id in narrowed["/payments/stuck"]
    overview = narrowed["/"]
    assert pages.tile(overview, "alerts")[0] == "1"
    assert pages.tile(overview, "stuck")[0] == "1"
    assert _fee_rows(overview) == [fee_account_id(a.platform_id, "XOF")]
    assert f'<option value="{a.platform_id}" selected>' in overview
    # Every link keeps the choice; the ledger's checks stay, marked as the installation's.
    for path in ("/", "/alerts", "/payments/stuck", "/webhooks"):
        assert f'href="{DASHBOARD}{path}?platform={a.platform_id}"' in overview, path
    assert (
        f'href="{DASHBOARD}/alerts?status=acknowledged&amp;platform={a.platform_id}"' in narrowed["/alerts?status=all"]
    )
    assert "These checks cover the whole installation" in pages.text(overview)
    # The other way round.
    _assert_absent(await _pages(operator, platform=b.platform_id), a)


async def test_the_overview_shows_each_platform_s_fees(operator: httpx.AsyncClient, two: Tenants) -> None:
    page = (await operator.get(f"{DASHBOARD}/")).text
    rows = _fee_rows(page)
    assert {fee_account_id(t.platform_id, "XOF") for t in (two.a, two.b)} <= set(rows)
    assert pages.row_cells(page, "data-fee-account", fee_account_id(two.a.platform_id, "XOF")) == [
        f"Marché Abidjan {two.a.platform_id}",
        "XOF",
        fee_account_id(two.a.platform_id, "XOF"),
        "1,250 XOF",
    ]
    assert pages.row_cells(page, "data-fee-account", fee_account_id(two.b.platform_id, "XOF"))[-1] == "3,400 XOF"
    assert "Platform fees" in pages.text(page)

    french = (await operator.get(f"{DASHBOARD}/?lang=fr")).text
    # French groups digits with a narrow no-break space (which the page's text would flatten).
    assert re.search(
        rf'<tr data-fee-account="{fee_account_id(two.b.platform_id, "XOF")}">.*?3\u202f400 XOF</td>', french, re.DOTALL
    )
    assert "Commissions des plateformes" in pages.text(french)
    assert "Toutes les plateformes" in pages.text(french)


async def test_a_support_key_bound_to_a_platform_sees_only_that_platform(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    a, b = two.a, two.b
    response = await sign_in(client, await tenants.bound_key(sessions, Scope.support, platform_id=a.platform_id))
    assert response.status_code == 303, response.text
    # An address naming another platform (or none that exists) neither switches nor widens the view.
    for asked in (None, b.platform_id, "plt_nosuch"):
        shown = await _pages(client, platform=asked)
        _assert_absent(shown, b, b.platform_id, b.name)
        assert a.alert_id in shown["/alerts?status=all"]
        assert a.collection_id in shown["/payments/stuck"]
        assert a.party_id in shown["/payments/stuck"]
        overview = shown["/"]
        assert _fee_rows(overview) == [fee_account_id(a.platform_id, "XOF")]
        assert pages.tile(overview, "alerts")[0] == "1"
        assert f"Platform: Marché Abidjan ({a.platform_id})" in pages.text(overview)
        for html in shown.values():
            assert 'id="platform-select"' not in html
            assert "?platform=" not in html, "a bound operator's links name no platform"
        # The ledger's checks span every platform: not a platform's staff's to see.
        assert 'id="tile-ledger"' not in overview
        assert 'id="health"' not in overview


async def test_a_bound_key_cannot_acknowledge_another_platform_s_alert(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    a, b = two.a, two.b
    await sign_in(client, await tenants.bound_key(sessions, Scope.support, platform_id=a.platform_id))
    token = form_token((await client.get(f"{DASHBOARD}/alerts")).text)
    for data in ({"csrf_token": token}, {"csrf_token": token, "platform": b.platform_id}):
        data["reason"] = "seen"
        response = await client.post(f"{DASHBOARD}/alerts/{b.alert_id}/acknowledge", data=data)
        assert response.status_code == 404, data
        assert "There is no such alert." in pages.text(response.text)
    assert await _alert_state(sessions, b.alert_id) == (None, None)
    assert await _acknowledgements(sessions) == []

    own = await client.post(
        f"{DASHBOARD}/alerts/{a.alert_id}/acknowledge", data={"csrf_token": token, "reason": "seen"}
    )
    assert own.status_code == 303
    assert own.headers["location"] == f"{DASHBOARD}/alerts?status=open&acknowledged={a.alert_id}"
    assert await _acknowledgements(sessions) == [a.alert_id]


async def test_a_global_operator_acknowledges_within_the_platform_in_view(
    operator: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], two: Tenants
) -> None:
    a, b = two.a, two.b
    page = (await operator.get(f"{DASHBOARD}/alerts?platform={a.platform_id}")).text
    assert f'<input type="hidden" name="platform" value="{a.platform_id}">' in page
    token = form_token(page)
    refused = await operator.post(
        f"{DASHBOARD}/alerts/{b.alert_id}/acknowledge",
        data={"csrf_token": token, "platform": a.platform_id, "reason": "seen"},
    )
    assert refused.status_code == 404
    assert await _alert_state(sessions, b.alert_id) == (None, None)

    done = await operator.post(
        f"{DASHBOARD}/alerts/{a.alert_id}/acknowledge",
        data={"csrf_token": token, "status": "open", "platform": a.platform_id, "reason": "seen"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"{DASHBOARD}/alerts?status=open&acknowledged={a.alert_id}&platform={a.platform_id}"
    )
    assert await _acknowledgements(sessions) == [a.alert_id]


@pytest.mark.parametrize("asked", ["plt_nosuch", "plt_../../x", "x" * 65])
async def test_an_unknown_platform_is_the_404_page(operator: httpx.AsyncClient, two: Tenants, asked: str) -> None:
    for path in ("/", "/alerts", "/payments/stuck", "/webhooks"):
        response = await operator.get(f"{DASHBOARD}{path}", params={"platform": asked})
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "There is no such platform: choose one in the list." in pages.text(response.text)
    french = await operator.get(f"{DASHBOARD}/", params={"platform": asked, "lang": "fr"})
    assert french.status_code == 404
    assert "Cette plateforme n'existe pas" in pages.text(french.text)
    # An empty choice is "All platforms".
    everything = await operator.get(f"{DASHBOARD}/alerts", params={"platform": ""})
    assert everything.status_code == 200
    assert two.a.alert_id in everything.text
    assert two.b.alert_id in everything.text


async def test_choosing_a_platform_in_the_browser_narrows_the_pages(
    browser: Browser, two: Tenants, database_url: str, admin_secret: str, tmp_path: Path
) -> None:
    a, b = two.a, two.b
    with live_api(database_url, workers=1) as base_url:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(f"{base_url}/dashboard/alerts")
        await page.get_by_label("API key").fill(admin_secret)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{base_url}/dashboard/alerts")
        await expect(page.locator("tr[data-alert]")).to_have_count(2)

        await page.get_by_label("Platform", exact=True).select_option(a.platform_id)
        await page.get_by_role("button", name="Show", exact=True).click()
        await expect(page).to_have_url(f"{base_url}/dashboard/alerts?platform={a.platform_id}")
        await expect(page.locator("tr[data-alert]")).to_have_count(1)
        await expect(page.locator(f'tr[data-alert="{a.alert_id}"]')).to_be_visible()
        await expect(page.get_by_text(b.alert_message)).to_have_count(0)
        await page.screenshot(path=str(screenshot_dir(tmp_path) / "dashboard-alerts-one-platform.png"), full_page=True)

        # The choice holds across the pages.
        await page.get_by_role("navigation").get_by_role("link", name="Stuck payments", exact=True).click()
        await expect(page).to_have_url(f"{base_url}/dashboard/payments/stuck?platform={a.platform_id}")
        await expect(page.locator("#stuck-collections tr[data-id]")).to_have_count(1)
        await expect(page.locator(f'#stuck-collections tr[data-id="{a.collection_id}"]')).to_be_visible()
        await page.get_by_role("navigation").get_by_role("link", name="Overview", exact=True).click()
        await expect(page.locator("tr[data-fee-account]")).to_have_count(1)
        await expect(page.locator("#tile-alerts .tile-value")).to_have_text("1")
        await expect(page.get_by_label("Platform", exact=True)).to_have_value(a.platform_id)

        # Back to every platform.
        await page.get_by_label("Platform", exact=True).select_option("")
        await page.get_by_role("button", name="Show", exact=True).click()
        await expect(page.locator("#tile-alerts .tile-value")).to_have_text("2")
        fees = page.locator(f'tr[data-fee-account="{fee_account_id(b.platform_id, "XOF")}"] td.num')
        await expect(fees).to_have_text("3,400 XOF")
        await page.screenshot(path=str(screenshot_dir(tmp_path) / "dashboard-overview-platforms.png"), full_page=True)
        await context.close()
