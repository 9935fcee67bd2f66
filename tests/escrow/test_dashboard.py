"""The dashboard's escrows page shows what the database holds: escrows per state, the
delivered milestones released within a day, the disputes with their reasons; in
English and in French; and a platform's own operator sees only its escrows."""

from __future__ import annotations

import re

import httpx
import pytest

from sika.dashboard import i18n
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, form_token, sign_in
from tests.escrow.conftest import Cast, Sessions, act, create, funded, scalar
from tests.support.ledger import snapshot
from tests.support.operations import row_counts


@pytest.fixture
async def queue(client: httpx.AsyncClient, cast: Cast) -> dict[str, str]:
    """One escrow awaiting funding; one funded with milestone 1 delivered (due in an hour)
    and milestone 2 delivered then disputed; one completed."""
    await create(client, cast)
    busy = await funded(client, cast, release_after_delivery_seconds=3_600)
    for step in ("milestones/1/deliver", "milestones/2/deliver"):
        assert (await act(client, busy, step, cast.beneficiary.headers)).status_code == 200
    disputed = await act(client, busy, "milestones/2/dispute", cast.client.headers, {"reason": "wrong colour"})
    assert disputed.status_code == 200
    done = await funded(client, cast, 1_000)
    for step in ("milestones/1/deliver", "milestones/1/approve"):
        assert (await act(client, done, step, cast.platform)).status_code == 200
    return {"busy": busy["id"], "done": done["id"]}


def _rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.DOTALL)
    return re.findall(r'<tr data-id="([^"]+)">', table.group(1)) if table else []


def _counts(page: str) -> dict[str, str]:
    found = re.findall(r'<tr data-status="(\w+)"><td>[^<]*</td><td class="num">([^<]*)</td>', page)
    return dict(found)


async def test_the_escrows_page_shows_states_due_and_disputed(
    client: httpx.AsyncClient, cast: Cast, queue: dict[str, str]
) -> None:
    assert (await sign_in(client, cast.admin["Authorization"].split()[1])).status_code == 303
    response = await client.get(f"{DASHBOARD}/escrows")
    assert response.status_code == 200, response.text
    page = response.text
    assert _counts(page) == {
        "awaiting_funding": "1",
        "funded": "1",
        "completed": "1",
        "refunded": "0",
        "partially_refunded": "0",
        "cancelled": "0",
    }
    assert _rows(page, "escrows-due") == [f"{queue['busy']}.1"]
    assert _rows(page, "escrows-disputed") == [f"{queue['busy']}.2"]
    assert "wrong colour" in pages.text(page)

    french = pages.text((await client.get(f"{DASHBOARD}/escrows", headers={"Accept-Language": "fr"})).text)
    assert "Séquestres" in french
    assert "En litige (1)" in french
    english_only = {english for english, french in i18n.MESSAGES.values() if english != french and len(english) > 3}
    leftover = sorted(label for label in english_only if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", french))
    assert leftover == []


async def test_another_platforms_operator_sees_none_of_them(
    client: httpx.AsyncClient, cast: Cast, queue: dict[str, str]
) -> None:
    other = await client.post(
        "/v1/platforms", json={"name": "Other shop", "default_currency": "XOF"}, headers=cast.admin
    )
    assert other.status_code == 201, other.text
    key = await client.post(
        "/v1/api-keys",
        json={"name": "other support", "scopes": ["support"], "platform_id": other.json()["id"]},
        headers=cast.admin,
    )
    assert (await sign_in(client, key.json()["secret"])).status_code == 303
    page = (await client.get(f"{DASHBOARD}/escrows")).text
    assert set(_counts(page).values()) == {"0"}
    assert _rows(page, "escrows-due") == _rows(page, "escrows-disputed") == []
    assert queue["busy"] not in page


async def test_an_operator_resolves_a_dispute_from_the_page(
    client: httpx.AsyncClient, cast: Cast, queue: dict[str, str], sessions: Sessions
) -> None:
    support = cast.support["Authorization"].split()[1]
    assert (await sign_in(client, support)).status_code == 303
    page = (await client.get(f"{DASHBOARD}/escrows")).text
    action = f"{DASHBOARD}/escrows/{queue['busy']}/milestones/2/resolve"
    fields = {"csrf_token": form_token(page), "release_minor": "3000", "refund_minor": "1000", "note": "agreed"}

    before = await snapshot(sessions), await row_counts(sessions)
    for refused, status in (
        ({**fields, "csrf_token": "forged"}, 403),
        ({**fields, "refund_minor": "999"}, 422),
        ({**fields, "release_minor": "-1"}, 400),
    ):
        response = await client.post(action, data=refused)
        assert response.status_code == status, response.text
        assert (await snapshot(sessions), await row_counts(sessions)) == before

    done = await client.post(action, data=fields)
    assert done.status_code == 303
    assert done.headers["location"] == f"{DASHBOARD}/escrows?resolved={queue['busy']}"
    shown = (await client.get(f"/v1/escrows/{queue['busy']}", headers=cast.platform)).json()
    second = shown["milestones"][1]
    assert (second["status"], second["released_minor"], second["refunded_minor"]) == ("divided", 3_000, 1_000)
    assert second["resolution_note"] == "agreed"
    actor = await scalar(
        sessions,
        "SELECT actor FROM audit_events WHERE entity_id = :id AND action = 'escrow.milestone_divided'",
        id=queue["busy"],
    )
    assert actor.startswith("key:")
    after = (await client.get(done.headers["location"])).text
    assert _rows(after, "escrows-disputed") == []
    assert queue["busy"] in pages.text(after)


async def test_the_overview_counts_what_escrows_hold(
    client: httpx.AsyncClient, cast: Cast, queue: dict[str, str]
) -> None:
    """The overview's "in escrow" is what the escrows still hold (one funded, one completed), and
    its wallets' figure is what the parties' wallets say: both after real deposits and a release."""
    assert (await sign_in(client, cast.admin["Authorization"].split()[1])).status_code == 303
    held = 0
    for escrow_id in queue.values():
        shown = await client.get(f"/v1/escrows/{escrow_id}", headers=cast.platform)
        held += shown.json()["held_minor"]
    available = 0
    for party in (cast.client, cast.beneficiary, cast.other):
        wallet = await client.get(f"/v1/wallets/{party.wallet_id}", headers=cast.platform)
        available += wallet.json()["available_minor"]
    platform_id = (await client.get(f"/v1/parties/{cast.client.party_id}", headers=cast.platform)).json()["platform_id"]
    page = await client.get(f"{DASHBOARD}/")
    assert page.status_code == 200, page.text
    found = pages.money_figures(page.text, platform_id)
    assert held == 10_000
    assert (found["escrow"], found["available"]) == (held, available)
