"""The ledger over HTTP: scopes, shapes, the transfers route, pagination."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import db
from tests.conftest import make_key
from tests.support.factories import create_party, party_headers
from tests.support.ledger import snapshot, terminate_backend_waiting_for_a_lock
from tests.support.routes import api_routes
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]


async def open_account(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    response = await client.post(
        "/v1/ledger/accounts", json={"currency": "XOF", "kind": "wallet", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_accounts_transfers_and_balance(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(
        client, platform_headers, debits_must_not_exceed_credits=True, owner_type="party", owner_id="pty_1"
    )
    top_up = await client.post(
        "/v1/ledger/transfers",
        json={
            "debit_account_id": world["id"],
            "credit_account_id": wallet["id"],
            "amount_minor": 5000,
            "currency": "XOF",
            "code": "top_up",
            "metadata": {"ref": "r1"},
        },
        headers=platform_headers,
    )
    assert top_up.status_code == 201, top_up.text
    assert top_up.json()["kind"] == "posted"
    assert top_up.json()["metadata"] == {"ref": "r1"}
    hold = await client.post(
        "/v1/ledger/transfers",
        json={
            "debit_account_id": wallet["id"],
            "credit_account_id": world["id"],
            "amount_minor": 2000,
            "currency": "XOF",
            "code": "hold",
            "pending": True,
            "timeout_seconds": 600,
        },
        headers=platform_headers,
    )
    assert hold.status_code == 201, hold.text
    balance = await client.get(f"/v1/ledger/accounts/{wallet['id']}/balance", headers=platform_headers)
    assert balance.json() == {
        "account_id": wallet["id"],
        "currency": "XOF",
        "posted_minor": 5000,
        "pending_minor": -2000,
        "available_minor": 3000,
        "debits_posted": 0,
        "credits_posted": 5000,
        "debits_pending": 2000,
        "credits_pending": 0,
        "version": 2,
    }
    posted = await client.post(
        f"/v1/ledger/transfers/{hold.json()['id']}/post", json={"amount_minor": 1500}, headers=platform_headers
    )
    assert posted.status_code == 201, posted.text
    assert (posted.json()["kind"], posted.json()["amount_minor"]) == ("post_pending", 1500)
    balance = await client.get(f"/v1/ledger/accounts/{wallet['id']}/balance", headers=platform_headers)
    assert (balance.json()["posted_minor"], balance.json()["available_minor"]) == (3500, 3500)
    before = await snapshot(sessions)
    again = await client.post(f"/v1/ledger/transfers/{hold.json()['id']}/void", json={}, headers=platform_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "pending_transfer_already_resolved"
    assert await snapshot(sessions) == before
    listed = await client.get(
        "/v1/ledger/accounts", params={"owner_type": "party", "owner_id": "pty_1"}, headers=platform_headers
    )
    assert [a["id"] for a in listed.json()["data"]] == [wallet["id"]]


async def test_refusal_is_problem_json_and_changes_nothing(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(client, platform_headers, debits_must_not_exceed_credits=True)
    before = await snapshot(sessions)
    response = await client.post(
        "/v1/ledger/transfers",
        json={
            "debit_account_id": wallet["id"],
            "credit_account_id": world["id"],
            "amount_minor": 1,
            "currency": "XOF",
            "code": "spend",
        },
        headers=platform_headers,
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_funds"
    unknown = await client.post(
        "/v1/ledger/accounts", json={"currency": "ABC", "kind": "wallet"}, headers=platform_headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_currency")
    assert await snapshot(sessions) == before


async def test_same_id_replays_and_idempotency_key_derives_the_id(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(client, platform_headers)
    body = {
        "debit_account_id": world["id"],
        "credit_account_id": wallet["id"],
        "amount_minor": 10,
        "currency": "XOF",
        "code": "top_up",
        "id": "client-1",
    }
    first = await client.post("/v1/ledger/transfers", json=body, headers=platform_headers)
    second = await client.post("/v1/ledger/transfers", json=body, headers=platform_headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    before = await snapshot(sessions)
    conflict = await client.post("/v1/ledger/transfers", json={**body, "amount_minor": 11}, headers=platform_headers)
    assert (conflict.status_code, conflict.json()["code"]) == (409, "transfer_exists")
    assert await snapshot(sessions) == before
    del body["id"]
    keyed = {**platform_headers, "Idempotency-Key": "k-1"}
    one = await client.post("/v1/ledger/transfers", json=body, headers=keyed)
    two = await client.post("/v1/ledger/transfers", json=body, headers=keyed)
    assert one.status_code == 201
    assert two.headers["idempotent-replayed"] == "true"
    assert one.json()["id"] == two.json()["id"]
    balance = await client.get(f"/v1/ledger/accounts/{wallet['id']}/balance", headers=platform_headers)
    assert balance.json()["posted_minor"] == 20


async def test_journal_entry_names_failing_leg(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(client, platform_headers, debits_must_not_exceed_credits=True)
    leg = {
        "debit_account_id": world["id"],
        "credit_account_id": wallet["id"],
        "amount_minor": 10,
        "currency": "XOF",
        "code": "in",
    }
    bad = {
        "debit_account_id": wallet["id"],
        "credit_account_id": world["id"],
        "amount_minor": 11,
        "currency": "XOF",
        "code": "out",
    }
    before = await snapshot(sessions)
    refused = await client.post("/v1/ledger/journal-entries", json={"transfers": [leg, bad]}, headers=platform_headers)
    assert refused.status_code == 409
    assert (refused.json()["code"], refused.json()["leg"]) == ("insufficient_funds", 1)
    assert await snapshot(sessions) == before
    accepted = await client.post(
        "/v1/ledger/journal-entries", json={"transfers": [leg, {**bad, "amount_minor": 10}]}, headers=platform_headers
    )
    assert accepted.status_code == 201, accepted.text
    assert [t["amount_minor"] for t in accepted.json()["transfers"]] == [10, 10]


async def test_account_transfers_paginate_with_filters(
    client: httpx.AsyncClient, platform_headers: dict[str, str]
) -> None:
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(client, platform_headers)
    ids = []
    for amount in range(1, 6):
        response = await client.post(
            "/v1/ledger/transfers",
            json={
                "debit_account_id": world["id"],
                "credit_account_id": wallet["id"],
                "amount_minor": amount,
                "currency": "XOF",
                "code": "odd" if amount % 2 else "even",
            },
            headers=platform_headers,
        )
        ids.append(response.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"/v1/ledger/accounts/{wallet['id']}/transfers", params=params, headers=platform_headers
        )
        assert page.status_code == 200, page.text
        seen += [t["id"] for t in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    odd = await client.get(
        f"/v1/ledger/accounts/{wallet['id']}/transfers",
        params={"code": "odd", "side": "credit"},
        headers=platform_headers,
    )
    assert [t["amount_minor"] for t in odd.json()["data"]] == [5, 3, 1]
    debit_side = await client.get(
        f"/v1/ledger/accounts/{wallet['id']}/transfers", params={"side": "debit"}, headers=platform_headers
    )
    assert debit_side.json()["data"] == []


async def test_scopes(client: httpx.AsyncClient, sessions: Sessions, platform_headers: dict[str, str]) -> None:
    wallet = await open_account(client, platform_headers)
    reader = {"Authorization": f"Bearer {await make_key(sessions, Scope.read)}"}
    support = {"Authorization": f"Bearer {await make_key(sessions, Scope.support)}"}
    before = await snapshot(sessions)
    for headers in (reader, support):
        assert (await client.get(f"/v1/ledger/accounts/{wallet['id']}", headers=headers)).status_code == 200
        denied = await client.post("/v1/ledger/accounts", json={"currency": "XOF", "kind": "wallet"}, headers=headers)
        assert denied.status_code == 403
    assert await snapshot(sessions) == before
    assert (await client.get(f"/v1/ledger/accounts/{wallet['id']}")).status_code == 401
    assert (await client.get("/v1/ledger/accounts/acct_nope", headers=reader)).json()["code"] == "account_not_found"


def _ledger_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in api_routes(app.routes)
        if "ledger" in route.original.tags
        for method in route.methods
    )


async def test_every_ledger_route_refuses_a_party_token(
    app: FastAPI, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    """The ledger moves anyone's money: a party token, which may touch only
    its own party's resources, gets 403 on every route, even to read."""
    wallet = await open_account(client, platform_headers)
    party = await create_party(client, platform_headers)
    as_party = await party_headers(client, platform_headers, party["id"])
    routes = _ledger_routes(app)
    assert len(routes) == 11
    before = await snapshot(sessions)
    for method, path in routes:
        url = path.format(account_id=wallet["id"], transfer_id="xfr_any")
        response = await client.request(method, url, json={} if method == "POST" else None, headers=as_party)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), (method, path)
    assert await snapshot(sessions) == before


UNSTORABLE_METADATA = {
    "nul": {"x": "\u0000"},
    "lone_surrogate": {"x": "\ud800"},
    "nan": {"x": float("nan")},
    "larger_in_the_database": {f"k{i}": 1e300 for i in range(14)},
}


@pytest.mark.parametrize("metadata", [pytest.param(m, id=name) for name, m in UNSTORABLE_METADATA.items()])
async def test_metadata_the_database_cannot_store_is_refused_with_422(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions, metadata: dict[str, object]
) -> None:
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(client, platform_headers)
    body = {
        "debit_account_id": world["id"],
        "credit_account_id": wallet["id"],
        "amount_minor": 10,
        "currency": "XOF",
        "code": "top_up",
        "metadata": metadata,
    }
    before = await snapshot(sessions)
    # As a client's JSON encoder may send it: escaped U+0000 and surrogates, NaN.
    sent = json.dumps(body).encode()
    response = await client.post(
        "/v1/ledger/transfers", content=sent, headers={**platform_headers, "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await snapshot(sessions) == before


async def test_a_database_failure_answers_503_with_retry_after(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    """The request's connection is lost while its transfer waits for a lock:
    the transfer is not applied and the caller is told when to try again."""
    world = await open_account(client, platform_headers, kind="world")
    wallet = await open_account(client, platform_headers)
    body = {
        "debit_account_id": world["id"],
        "credit_account_id": wallet["id"],
        "amount_minor": 10,
        "currency": "XOF",
        "code": "top_up",
    }
    before = await snapshot(sessions)
    async with db.transaction(sessions) as locker:
        # Holds the wallet's row, so each attempt waits where it can be ended.
        await locker.execute(sa.text("SELECT 1 FROM ledger_accounts WHERE id = :id FOR UPDATE"), {"id": wallet["id"]})
        response, _ = await all_of(
            client.post("/v1/ledger/transfers", json=body, headers=platform_headers),
            terminate_backend_waiting_for_a_lock(sessions),
        )
    assert isinstance(response, httpx.Response)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "ledger_busy"
    assert response.headers["retry-after"] == "1"
    assert await snapshot(sessions) == before
