"""A party token touches only its own party's resources: every route open to
party tokens answers 403 when it names another party's resource, and
changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.factories import Owner, top_up
from tests.support.routes import api_routes
from tests.wallets.conftest import place_hold, transfer_count, wallet_state

Sessions = async_sessionmaker[AsyncSession]

# Every route a party token may call, with a request naming a resource of
# {party}, {wallet} and {hold} (a hold that party placed), and a body where
# "{other_wallet}" names the other party's wallet. The first test below keeps
# this table whole.
PARTY_ROUTES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/v1/parties/{party_id}"): None,
    ("GET", "/v1/parties/{party_id}/wallets"): None,
    ("GET", "/v1/parties/{party_id}/summary"): None,
    ("GET", "/v1/wallets/{wallet_id}"): None,
    ("GET", "/v1/wallets/{wallet_id}/history"): None,
    ("GET", "/v1/wallets/{wallet_id}/holds"): None,
    ("POST", "/v1/wallets/{wallet_id}/holds"): {"amount_minor": 100, "reason": "probe"},
    ("GET", "/v1/holds/{hold_id}"): None,
    ("POST", "/v1/holds/{hold_id}/capture"): {"destination_wallet_id": "{other_wallet}"},
    ("POST", "/v1/holds/{hold_id}/release"): None,
}
EXPECTED_STATUS = {"GET": 200, "POST": 201}
OWN_TAGS = {"parties", "wallets"}
"""The routers this table covers; other domains keep tables of their own."""


def _url(path: str, owner: Owner, hold_id: str) -> str:
    return path.format(party_id=owner.party["id"], wallet_id=owner.wallet_id, hold_id=hold_id)


def _body(method: str, path: str, other: Owner) -> dict[str, Any] | None:
    body = PARTY_ROUTES[(method, path)]
    return None if body is None else {k: other.wallet_id if v == "{other_wallet}" else v for k, v in body.items()}


def test_the_table_names_every_party_and_wallet_route_open_to_party_tokens(app: FastAPI) -> None:
    open_routes = {
        (method, route.path)
        for route in api_routes(app.routes)
        if set(route.original.tags) & OWN_TAGS and route.marked("sika_allow_party")
        for method in route.methods
    }
    assert open_routes == set(PARTY_ROUTES)


@pytest.fixture
async def holds(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    platform_headers: dict[str, str],
    buyer: Owner,
    merchant: Owner,
) -> dict[str, str]:
    """An open hold on each party's wallet, placed by that party."""
    found = {}
    for owner in (buyer, merchant):
        await top_up(client, admin_headers, owner.wallet_id, 5000)
        found[owner.party["id"]] = (await place_hold(client, owner.headers, owner.wallet_id, 1000)).json()["id"]
    return found


@pytest.mark.parametrize(("method", "path"), list(PARTY_ROUTES))
async def test_another_partys_resource_is_403_and_nothing_moves(
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    sessions: Sessions,
    buyer: Owner,
    merchant: Owner,
    holds: dict[str, str],
    method: str,
    path: str,
) -> None:
    before = await transfer_count(sessions)
    response = await client.request(
        method,
        _url(path, merchant, holds[merchant.party["id"]]),
        json=_body(method, path, buyer),
        headers=buyer.headers,
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "not_owned_by_party"
    assert await transfer_count(sessions) == before
    assert await wallet_state(client, platform_headers, merchant.wallet_id) == (5000, 1000, 4000)
    assert await wallet_state(client, platform_headers, buyer.wallet_id) == (5000, 1000, 4000)


@pytest.mark.parametrize(("method", "path"), list(PARTY_ROUTES))
async def test_its_own_resource_is_served(
    client: httpx.AsyncClient, buyer: Owner, merchant: Owner, holds: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(
        method, _url(path, buyer, holds[buyer.party["id"]]), json=_body(method, path, merchant), headers=buyer.headers
    )
    expected = 200 if path.endswith(("/capture", "/release")) else EXPECTED_STATUS[method]
    assert response.status_code == expected, response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/parties/{party_id}/wallets", {"currency": "EUR"}),
        ("POST", "/v1/wallets/{wallet_id}/top-ups", {"amount_minor": 100}),
    ],
)
async def test_routes_closed_to_party_tokens_refuse_even_its_own_resources(
    client: httpx.AsyncClient,
    platform_headers: dict[str, str],
    sessions: Sessions,
    buyer: Owner,
    holds: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    before = await transfer_count(sessions)
    response = await client.request(
        method, _url(path, buyer, holds[buyer.party["id"]]), json=body, headers=buyer.headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert await transfer_count(sessions) == before
    assert await wallet_state(client, platform_headers, buyer.wallet_id) == (5000, 1000, 4000)
    listed = await client.get(f"/v1/parties/{buyer.party['id']}/wallets", headers=platform_headers)
    assert [w["currency"] for w in listed.json()["data"]] == ["XOF"]
