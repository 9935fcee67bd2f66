"""Every list answers the same cursor envelope (``{"data": [...], "next_cursor"}``),
newest first, and its cursor walks it in that order; a list that also reads oldest
first says so with an ``order`` parameter. The list routes are found by walking the
app, so a later list is held to the same rule."""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from sika.alerts import service as alerts_service
from sika.auth import service as auth_service
from sika.core import clock, db
from sika.outbound import service as outbound_service
from sika.wallets.models import Wallet
from tests.conftest import TEST_ACTOR
from tests.support.factories import PartyWallet, open_wallet, party_with_wallet
from tests.support.ledger import Sessions
from tests.support.payment_fixtures import client, kofi, settings, world
from tests.support.payments import World, collection_body, mobile_money, payout_body
from tests.support.proofs import sent_proof
from tests.support.routes import Route, api_routes
from tests.support.sandbox import live, sandbox

__all__ = ["client", "kofi", "live", "sandbox", "settings", "world"]

NOT_LISTS = {"platform_fees"}
"""GET routes whose answer holds a ``data`` array but is not a list to page: the fees a
platform earned, one row per currency."""
KNOWN_LISTS = {
    "list_escrows",
    "list_spend_categories",
    "list_merchants",
    "list_mandates",
    "list_purchases",
    "list_proofs",
    "list_platforms",
    "list_api_keys",
    "list_parties",
    "list_party_wallets",
    "list_accounts",
    "list_account_transfers",
    "wallet_history",
    "list_holds",
    "list_collections",
    "list_payouts",
    "list_events",
    "list_audit_events",
    "list_webhook_events",
    "list_alerts",
    "list_allowlist",
    "list_certifications",
    "list_transfers",
    "list_webhook_endpoints",
    "list_webhook_deliveries",
    "list_plans",
    "list_promo_codes",
}
"""The lists there are today, to show the walk finds them."""
ORDER_KEYS = ("seq", "created_at", "occurred_at", "received_at")
"""What orders an item of a list, the first its answer shows."""


def _shape(route: Route) -> Any:
    return route.original.response_model


def _is_list(route: Route) -> bool:
    if "GET" not in route.methods or route.name in NOT_LISTS:
        return False
    shape = _shape(route)
    if typing.get_origin(shape) is list:
        return True
    return isinstance(shape, type) and issubclass(shape, BaseModel) and "data" in shape.model_fields


def _list_routes(app: FastAPI) -> list[Route]:
    return [route for route in api_routes(app.routes) if _is_list(route)]


def _query_names(route: Route) -> set[str]:
    """The query parameters of the route, those of its dependencies (``Page``) among them."""

    def names(dependant: Dependant) -> set[str]:
        found = {param.alias for param in dependant.query_params}
        return found.union(*(names(sub) for sub in dependant.dependencies))

    return names(route.dependant)


def test_every_list_answers_the_cursor_envelope(app: FastAPI) -> None:
    routes = _list_routes(app)
    assert {route.name for route in routes} >= KNOWN_LISTS, "the walk must find the lists"
    wrong = []
    for route in routes:
        shape = _shape(route)
        if typing.get_origin(shape) is list or set(shape.model_fields) != {"data", "next_cursor"}:
            wrong.append(f"{route.path}: answers {shape}, not the envelope")
        elif not {"cursor", "limit"} <= _query_names(route):
            wrong.append(f"{route.path}: takes no cursor and limit")
    assert wrong == []


def test_the_openapi_document_shows_every_list_as_the_envelope(app: FastAPI) -> None:
    document = app.openapi()
    for route in _list_routes(app):
        answer = document["paths"][route.path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in answer, route.path
        schema = document["components"]["schemas"][answer["$ref"].rsplit("/", 1)[-1]]
        assert set(schema["properties"]) == {"data", "next_cursor"}, route.path
        assert schema["properties"]["data"]["type"] == "array", route.path


def _order_key(item: dict[str, Any]) -> int | datetime:
    name = next(name for name in ORDER_KEYS if name in item)
    value = item[name]
    return value if isinstance(value, int) else datetime.fromisoformat(value)


async def _two_of_everything(world: World, kofi: PartyWallet) -> dict[str, str]:
    """At least two items in every list, each made by its own request; the ids of the
    paths: a party with two wallets, a wallet with holds and history, its ledger account."""
    client, admin, platform = world.client, world.admin, world.platform
    endpoints = []
    for n in range(2):
        endpoint = await client.post("/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:9/{n}"}, headers=platform)
        assert endpoint.status_code == 201, endpoint.text
        endpoints.append(endpoint.json()["id"])
    for n in range(2):
        made = await client.post("/v1/platforms", json={"name": f"Shop {n}", "default_currency": "XOF"}, headers=admin)
        assert made.status_code == 201, made.text
        key = await client.post("/v1/api-keys", json={"name": f"key {n}", "scopes": ["read"]}, headers=admin)
        assert key.status_code == 201, key.text
        await world.top_up(kofi, 10_000)
        hold = await client.post(
            f"/v1/wallets/{kofi.wallet_id}/holds", json={"amount_minor": 100, "reason": f"order {n}"}, headers=platform
        )
        assert hold.status_code == 201, hold.text
        started = await world.collect(collection_body(kofi, amount_minor=1_000, method=mobile_money("mtn")))
        assert started.status_code == 201, started.text
        payout = await world.pay_out(payout_body(kofi, amount_minor=500))
        assert payout.status_code == 201, payout.text
        async with db.transaction(world.sessions) as session:
            await alerts_service.raise_alert(session, kind="test.alert", message=f"alert {n}", platform_id=None)
    await world.deliver(2)
    two = await party_with_wallet(client, platform, display_name="Two Wallets")
    await open_wallet(client, platform, two.party_id, currency="GHS")
    for n in range(2):
        escrow = {
            "client_party_id": kofi.party_id,
            "beneficiary_party_id": two.party_id,
            "currency": "XOF",
            "amount_minor": 1_000,
            "milestones": [{"title": f"job {n}", "amount_minor": 1_000}],
        }
        made = await client.post("/v1/escrows", json=escrow, headers=platform)
        assert made.status_code == 201, made.text
    proved = made.json()["id"]
    for step in ("fund", "milestones/1/deliver"):
        assert (await client.post(f"/v1/escrows/{proved}/{step}", json={}, headers=platform)).status_code == 200
    for _ in range(2):
        await sent_proof(client, platform, proved)
    mandate_id = await _two_mandates_with_two_purchases(world, kofi, two)
    for n in range(2):
        recipient = await party_with_wallet(client, platform, display_name=f"Recipient {n}")
        listed = await client.post(
            f"/v1/parties/{two.party_id}/allowlist", json={"recipient_party_id": recipient.party_id}, headers=platform
        )
        assert listed.status_code == 201, listed.text
        certified = await client.post(
            f"/v1/parties/{two.party_id}/certification", json={"level": n + 1, "reason": "checked"}, headers=admin
        )
        assert certified.status_code == 201, certified.text
        transfer = {
            "source_wallet_id": kofi.wallet_id,
            "destination_wallet_id": recipient.wallet_id,
            "amount_minor": 100,
        }
        sent = await client.post("/v1/transfers", json=transfer, headers=platform)
        assert sent.status_code == 201, sent.text
    for _ in range(2):
        plan = {
            "payer_party_id": kofi.party_id,
            "payee_party_id": two.party_id,
            "currency": "XOF",
            "total_minor": 1_000,
            "schedule": {"count": 1, "first_due_on": "2100-01-01", "interval_days": 1},
        }
        made = await client.post("/v1/instalment-plans", json=plan, headers=platform)
        assert made.status_code == 201, made.text
    for n in range(2):
        promo = await client.post(
            "/v1/promo-codes", json={"code": f"LIST{n}", "percent_off_bps": 500}, headers=platform
        )
        assert promo.status_code == 201, promo.text
    async with db.transaction(world.sessions) as session:
        await outbound_service.fan_out(session, now=clock.now())
    async with world.sessions() as session:
        account = await session.scalar(sa.select(Wallet.account_id).where(Wallet.id == kofi.wallet_id))
    assert account is not None
    return {
        "party_id": two.party_id,
        "wallet_id": kofi.wallet_id,
        "account_id": account,
        "mandate_id": mandate_id,
        "escrow_id": proved,
        "number": "1",
        "endpoint_id": endpoints[0],
    }


async def _two_mandates_with_two_purchases(world: World, kofi: PartyWallet, two: PartyWallet) -> str:
    """Two spend categories, two merchants, two mandates from ``kofi``; the first's id, which made two purchases."""
    client, platform = world.client, world.platform
    merchants = []
    for n in range(2):
        labels = {"code": f"category_{n}", "label_en": f"Category {n}", "label_fr": f"Catégorie {n}"}
        category = await client.post("/v1/spend-categories", json=labels, headers=platform)
        assert category.status_code == 201, category.text
        shop = await party_with_wallet(client, platform, display_name=f"Shop {n}", type="business")
        merchant = await client.post(
            "/v1/merchants", json={"party_id": shop.party_id, "category_id": category.json()["id"]}, headers=platform
        )
        assert merchant.status_code == 201, merchant.text
        merchants.append(merchant.json()["id"])
    mandates = []
    for beneficiary in (two.party_id, (await party_with_wallet(client, platform, display_name="Child")).party_id):
        body: dict[str, Any] = {
            "sender_party_id": kofi.party_id,
            "beneficiary_party_id": beneficiary,
            "currency": "XOF",
            "amount_minor": 1_000,
            "allowed_merchant_ids": merchants,
            "certified_only": False,
            "expires_at": "2100-01-01T00:00:00Z",
        }
        made = await client.post("/v1/mandates", json=body, headers=platform)
        assert made.status_code == 201, made.text
        mandates.append(str(made.json()["id"]))
    for n, merchant_id in enumerate(merchants):
        bought = await client.post(
            f"/v1/mandates/{mandates[0]}/purchases",
            json={"merchant_id": merchant_id, "amount_minor": 100, "reference": f"order {n}"},
            headers=platform,
        )
        assert bought.status_code == 201, bought.text
    return mandates[0]


async def _page(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, (path, response.text)
    page: dict[str, Any] = response.json()
    assert set(page) == {"data", "next_cursor"}, path
    return page


async def test_every_list_is_newest_first_and_its_cursor_walks_it(
    app: FastAPI, world: World, kofi: PartyWallet
) -> None:
    ids = await _two_of_everything(world, kofi)
    routes = _list_routes(app)
    for route in routes:
        path = route.path.format_map({param.name: ids[param.name] for param in route.dependant.path_params})
        whole = (await _page(world.client, path, world.admin, limit=200))["data"]
        keys = [_order_key(item) for item in whole]
        assert len(set(keys)) >= 2, f"{path}: the world must give it two items apart"
        assert keys == sorted(keys, reverse=True), f"{path}: not newest first"
        first = await _page(world.client, path, world.admin, limit=1)
        second = await _page(world.client, path, world.admin, limit=1, cursor=first["next_cursor"])
        assert first["data"] + second["data"] == whole[:2], f"{path}: the cursor does not walk the list"
        if "order" in _query_names(route):
            oldest = (await _page(world.client, path, world.admin, limit=200, order="oldest"))["data"]
            assert oldest == whole[::-1], f"{path}: order=oldest is not the list reversed"


async def test_api_keys_made_in_one_transaction_are_paged_once_each(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    """Keys have no ``seq``: their cursor holds a creation time and an id, and keys made
    together share the time, so the id tells them apart."""
    async with db.transaction(sessions) as session:
        for n in range(4):
            await auth_service.create_key(
                session, name=f"batch {n}", scopes=["read"], expires_at=None, actor=TEST_ACTOR
            )
    whole = (await _page(client, "/v1/api-keys", admin_headers, limit=200))["data"]
    assert len({key["created_at"] for key in whole if key["name"].startswith("batch")}) == 1
    walked: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _page(client, "/v1/api-keys", admin_headers, limit=1, **({"cursor": cursor} if cursor else {}))
        walked.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [key["id"] for key in walked] == [key["id"] for key in whole]
    assert len(whole) == 5


@pytest.mark.parametrize("cursor", ["MTIz", "x" * 200, "MTIzNDU2Lmtlel9BQkM", "LTEua2V5X2E", "=="])
async def test_an_api_key_cursor_not_given_by_the_list_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cursor: str
) -> None:
    response = await client.get("/v1/api-keys", params={"cursor": cursor}, headers=admin_headers)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")
