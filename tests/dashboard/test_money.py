"""The overview in business words: per platform and currency, the money in wallets
(available, on hold), in escrow and mandates, on its way in and out with the providers,
and the fees earned, each figure equal to what the wallets and the ledger say after real
movements, each opening the list behind it; the chart shows amounts as well as counts."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.wallets import service as wallets_service
from tests.conftest import TEST_ACTOR
from tests.dashboard import pages, tenants
from tests.dashboard.conftest import DASHBOARD, sign_in
from tests.dashboard.tenants import Tenant, Tenants
from tests.support.sandbox import LiveSandbox

HELD_MINOR = 3_000
COLLECTION_MINOR = 2_500
"""Each tenant's stuck collection (``tests.dashboard.tenants``)."""
FIGURES = ("available", "held", "escrow", "mandates", "collections", "payouts", "fees")


@pytest.fixture
async def two(app: FastAPI, sessions: async_sessionmaker[AsyncSession], live: LiveSandbox) -> Tenants:
    built = await tenants.build(sessions, provider_settings=live.settings, now=clock.now())
    async with db.transaction(sessions) as session:
        await wallets_service.place_hold(
            session,
            wallet_id=built.a.wallet_id,
            amount_minor=HELD_MINOR,
            reason="order 18",
            reference=None,
            expires_in_seconds=None,
            owner=wallets_service.API_OWNER,
            actor=TEST_ACTOR,
            now=clock.now(),
        )
    return built


async def wallet_money(sessions: async_sessionmaker[AsyncSession], tenant: Tenant) -> tuple[int, int]:
    """(available, held) as the wallet itself reports them."""
    async with sessions() as session:
        view = await wallets_service.get_wallet(session, wallet_id=tenant.wallet_id, actor=TEST_ACTOR, now=clock.now())
    return view.available_minor, view.held_minor


async def test_each_platform_s_figures_equal_its_wallets_ledger_and_open_payments(
    operator: httpx.AsyncClient, two: Tenants, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = await operator.get(f"{DASHBOARD}/")
    assert page.status_code == 200, page.text
    for tenant, held in ((two.a, HELD_MINOR), (two.b, 0)):
        available, held_by_wallet = await wallet_money(sessions, tenant)
        assert held_by_wallet == held
        assert pages.money_figures(page.text, tenant.platform_id) == {
            "available": available,
            "held": held,
            "escrow": 0,
            "mandates": 0,
            "collections": COLLECTION_MINOR,
            "payouts": 0,
            "fees": tenant.fee_minor,
        }
    assert available == tenants.TOP_UP_MINOR - two.b.fee_minor
    text = pages.text(page.text)
    assert "Where the money is" in text
    assert "1 not final" in text
    french = pages.text((await operator.get(f"{DASHBOARD}/?lang=fr")).text)
    assert "Où est l'argent" in french
    assert "Portefeuilles, bloqué" in french


async def test_a_platform_bound_operator_sees_its_own_figures_only(
    client: httpx.AsyncClient, two: Tenants, sessions: async_sessionmaker[AsyncSession]
) -> None:
    secret = await tenants.bound_key(sessions, Scope.support, platform_id=two.a.platform_id)
    assert (await sign_in(client, secret)).status_code == 303
    page = await client.get(f"{DASHBOARD}/?platform={two.b.platform_id}")
    assert pages.money_figures(page.text, two.a.platform_id)["held"] == HELD_MINOR
    assert f'data-platform="{two.b.platform_id}"' not in page.text


async def test_each_figure_opens_the_list_behind_it(
    operator: httpx.AsyncClient, two: Tenants, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = await operator.get(f"{DASHBOARD}/")
    links = dict(
        re.findall(
            rf'data-figure="(\w+)" data-minor="-?\d+">\s*<a href="([^"]+platform={two.a.platform_id}[^"]*)"', page.text
        )
    )
    assert sorted(links) == sorted(FIGURES)
    held = await operator.get(links["held"].replace("&amp;", "&"))
    assert held.status_code == 200, held.text
    rows = dict(re.findall(r'<tr data-id="([^"]+)">.*?<td class="num nowrap">([^<]+)</td>', held.text, re.DOTALL))
    assert rows == {wallet_account: "3,000 XOF" for wallet_account in rows}
    assert len(rows) == 1
    coming = await operator.get(links["collections"].replace("&amp;", "&"))
    assert f'data-id="{two.a.collection_id}"' in coming.text
    assert f'data-id="{two.b.collection_id}"' not in coming.text
    assert (await operator.get(f"{DASHBOARD}/money/held?currency=xof")).status_code == 400
    assert (await operator.get(f"{DASHBOARD}/money/nothing?currency=XOF")).status_code == 400


async def test_the_chart_switches_between_counts_and_amounts(operator: httpx.AsyncClient, two: Tenants) -> None:
    def collection_bars(html: str) -> int:
        values = re.findall(r'data-series="collections" data-value="(\d+)"', html)
        return sum(int(value) for value in values)

    counts = await operator.get(f"{DASHBOARD}/")
    assert collection_bars(counts.text) == 2
    assert 'href="/dashboard/?chart=amounts&amp;currency=XOF"' in counts.text
    amounts = await operator.get(f"{DASHBOARD}/?chart=amounts&currency=XOF")
    assert collection_bars(amounts.text) == 2 * COLLECTION_MINOR
    assert "5,000 XOF collected" in pages.text(amounts.text) or "5,000 XOF" in amounts.text
    assert 'aria-current="true">Amounts in XOF' in amounts.text
