"""The dashboard's promo codes page shows each code of the platform in view with
its uses against its maximum and its state, in English and in French; another
platform's operator sees none of them. The operators' search finds a code by
its id and by its code in any case."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock
from sika.dashboard import i18n
from tests.conftest import make_key
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, sign_in
from tests.promos.conftest import code, reserve
from tests.support.platforms import create_platform, key_headers

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]


def _rows(page: str) -> dict[str, str]:
    """Each row of the codes' table by its id, as text."""
    table = re.search(r'<table id="promo-codes">(.*?)</table>', page, re.DOTALL)
    assert table is not None, page
    return {
        found.group(1): pages.text(found.group(2))
        for found in re.finditer(r'<tr data-id="([^"]+)">(.*?)</tr>', table.group(1), re.DOTALL)
    }


def _missing(row: str, *parts: str) -> list[str]:
    return [part for part in parts if part not in row]


async def test_the_page_shows_uses_maximums_and_states(
    client: httpx.AsyncClient, sessions: Sessions, parties: list[str]
) -> None:
    used = await code(sessions, code="ONCE", max_redemptions=1, percent_off_bps=1_250)
    await reserve(sessions, used, "subject_1", parties[0])
    fixed = await code(sessions, code="MINUS", percent_off_bps=None, amount_off_minor=150_000, currency="XOF")
    later = await code(sessions, code="LATER", starts_at=clock.now() + timedelta(days=3))
    support = await make_key(sessions, Scope.support)
    assert (await sign_in(client, support)).status_code == 303
    english = await client.get(f"{DASHBOARD}/promo-codes")
    assert english.status_code == 200, english.text
    rows = _rows(english.text)
    assert list(rows) == [later.id, fixed.id, used.id]
    assert _missing(rows[used.id], "12.5", "1 / 1", "used up") == []
    assert _missing(rows[fixed.id], "150,000 XOF", "0 / ∞", "active") == []
    assert _missing(rows[later.id], "not valid yet") == []
    french = await client.get(f"{DASHBOARD}/promo-codes", headers={"Accept-Language": "fr"})
    rows = _rows(french.text)
    assert _missing(rows[used.id], "12,5", "épuisé") == []
    assert _missing(rows[later.id], "pas encore valable") == []
    text = pages.text(french.text)
    assert "Codes promo" in text
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    leftover = sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text))
    assert leftover == []


async def test_another_platforms_operator_sees_none_of_them(
    client: httpx.AsyncClient, sessions: Sessions, admin_headers: Headers
) -> None:
    promo = await code(sessions)
    other = await create_platform(client, admin_headers, name="Other shop")
    support = await key_headers(client, admin_headers, scopes=["support"], platform_id=other["id"])
    assert (await sign_in(client, support["Authorization"].split()[1])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/promo-codes")).text
    assert promo.id not in page
    assert "No promo code yet." in pages.text(page)


async def test_the_operators_search_finds_a_code_by_id_and_by_code(
    client: httpx.AsyncClient, sessions: Sessions, admin_headers: Headers
) -> None:
    promo = await code(sessions, code="Rentree2026")
    for query in (promo.id, "RENTREE2026"):
        answer = await client.get("/v1/search", params={"q": query}, headers=admin_headers)
        assert answer.status_code == 200, answer.text
        (hit,) = answer.json()["promo_codes"]["data"]
        assert (hit["id"], hit["state"]) == (promo.id, "active")
    assert (await sign_in(client, admin_headers["Authorization"].split()[1])).status_code == 303
    page = await client.get(f"{DASHBOARD}/search", params={"q": "rentree2026"})
    assert f'data-id="{promo.id}"' in page.text
    assert "Promo codes (1)" in pages.text(page.text)
