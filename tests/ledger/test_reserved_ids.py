"""Ids Sika derives are Sika's alone: the ledger API refuses a caller's
transfer or journal entry id that begins like a Sika id, on every route
that takes one, and moves nothing; any other id of the caller's own works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import db, ids
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.support.ledger import snapshot

Sessions = async_sessionmaker[AsyncSession]

DERIVED_IDS: dict[str, Callable[[], str]] = {
    # ledger.service: a transfer, journal leg, post, void or expiry sent without an id
    "transfer": lambda: ids.new_id("xfr"),
    # ledger.service.transfer_id_for_key: a grouped transfer sent with an Idempotency-Key
    "idempotency_key_transfer": lambda: ledger_service.transfer_id_for_key(owner="key:key_other", key="order-42"),
    # ledger.service.create_journal_entry without an id
    "journal_entry": lambda: ids.new_id("jrn"),
    # wallets.service.place_hold (a payout's hold too)
    "hold": lambda: ids.new_id("hold"),
    # payments.service._credit_wallet
    "collection_credit": lambda: f"{ids.new_id('col')}.credit",
    # payments.service._give_back
    "payout_reversal": lambda: f"{ids.new_id('po')}.reversal",
}
"""Every form of transfer (or journal entry) id the code makes: each begins like a Sika id."""


async def open_account(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> str:
    response = await client.post(
        "/v1/ledger/accounts", json={"currency": "XOF", "kind": "wallet", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def own_books(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[dict[str, Any], str]:
    """A transfer's body between two accounts of the caller's own (the first
    funded), and an open pending transfer between them."""
    world = await open_account(client, headers, kind="world")
    wallet = await open_account(client, headers, debits_must_not_exceed_credits=True)
    body = {"debit_account_id": world, "credit_account_id": wallet, "amount_minor": 1, "currency": "XOF", "code": "own"}
    pending = await client.post("/v1/ledger/transfers", json={**body, "pending": True}, headers=headers)
    assert pending.status_code == 201, pending.text
    return body, str(pending.json()["id"])


def assert_reserved(response: httpx.Response, transfer_id: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["transfer_id"]) == ("transfer_id_reserved", transfer_id)


@pytest.mark.parametrize("derive", [pytest.param(f, id=name) for name, f in DERIVED_IDS.items()])
async def test_a_derived_id_is_refused_on_every_route_and_nothing_moves(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions, derive: Callable[[], str]
) -> None:
    body, pending_id = await own_books(client, platform_headers)
    derived = derive()
    assert ids.begins_like_sika_id(derived)
    before = await snapshot(sessions)
    attempts = {
        "transfer": ("/v1/ledger/transfers", {**body, "id": derived}),
        "pending transfer": ("/v1/ledger/transfers", {**body, "id": derived, "pending": True}),
        "journal entry": ("/v1/ledger/journal-entries", {"id": derived, "transfers": [body]}),
        "journal leg": ("/v1/ledger/journal-entries", {"transfers": [body, {**body, "id": derived}]}),
        "post": (f"/v1/ledger/transfers/{pending_id}/post", {"id": derived}),
        "void": (f"/v1/ledger/transfers/{pending_id}/void", {"id": derived}),
    }
    for path, sent in attempts.values():
        assert_reserved(await client.post(path, json=sent, headers=platform_headers), derived)
    assert await snapshot(sessions) == before
    missing = await client.get(f"/v1/ledger/transfers/{derived}", headers=platform_headers)
    assert missing.status_code == 404


async def test_ids_of_the_callers_own_still_work(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    body, pending_id = await own_books(client, platform_headers)
    # Close to a Sika id, but not one: a different shape, length or case.
    for own in ("order-17", "xfr-client-1", "hold_42", "col_short.credit", "XFR_" + "A" * 26, "xfr_" + "1" * 26):
        created = await client.post("/v1/ledger/transfers", json={**body, "id": own}, headers=platform_headers)
        assert (created.status_code, created.json()["id"]) == (201, own), created.text
    entry = await client.post(
        "/v1/ledger/journal-entries",
        json={"id": "entry-1", "transfers": [{**body, "id": "entry-1.a"}]},
        headers=platform_headers,
    )
    assert entry.status_code == 201, entry.text
    posted = await client.post(
        f"/v1/ledger/transfers/{pending_id}/post", json={"id": "post-1"}, headers=platform_headers
    )
    assert (posted.status_code, posted.json()["id"]) == (201, "post-1"), posted.text


async def test_the_refusal_reads_in_french(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    body, _ = await own_books(client, platform_headers)
    derived = ids.new_id("hold")
    response = await client.post(
        "/v1/ledger/transfers", json={**body, "id": derived}, headers={**platform_headers, "Accept-Language": "fr"}
    )
    assert_reserved(response, derived)
    assert response.json()["detail"].startswith("Les identifiants qui commencent comme un identifiant Sika")


async def test_a_key_derived_id_taken_ahead_does_not_block_its_owner(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    """Another caller computes the id the ledger will derive from this
    caller's Idempotency-Key and sends it first: refused, so this caller's
    transfer with that key lands as the ledger names it."""
    async with db.transaction(sessions) as session:
        owner = await auth_service.create_key(
            session, name="owner", scopes=[Scope.platform.value], expires_at=None, actor=TEST_ACTOR
        )
    owner_headers = {"Authorization": f"Bearer {owner.secret}"}
    body, _ = await own_books(client, owner_headers)
    derived = ledger_service.transfer_id_for_key(owner=f"key:{owner.key.id}", key="order-42")
    before = await snapshot(sessions)
    squat = await client.post(
        "/v1/ledger/transfers", json={**body, "id": derived, "amount_minor": 2}, headers=platform_headers
    )
    assert_reserved(squat, derived)
    assert await snapshot(sessions) == before

    keyed = await client.post(
        "/v1/ledger/transfers", json=body, headers={**owner_headers, "Idempotency-Key": "order-42"}
    )
    assert (keyed.status_code, keyed.json()["id"]) == (201, derived), keyed.text
