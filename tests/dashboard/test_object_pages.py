"""The object pages (collection, payout, hold, wallet, party) at ``/dashboard/<kind>s/{id}``:
each shows its facts and its timeline, links to the objects it belongs to, speaks
French, and is the 404 page for another platform's object, whatever the address asks."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock
from tests.dashboard import pages, tenants
from tests.dashboard.conftest import DASHBOARD, sign_in
from tests.dashboard.tenants import Tenants
from tests.dashboard.world import SUCCESS_PHONE
from tests.support.sandbox import LiveSandbox


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
