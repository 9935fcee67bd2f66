"""A POST that moves money requires an Idempotency-Key (428 ``idempotency_key_required``
without one, and nothing moves): its answer may be lost, and a retry without a key
would move the money twice. The routes are found by the mark their claim carries
(``idempotency_claim(guard, required=True)``), so a later money route is walked too;
every other POST is listed here as moving no money, a decision to review."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api.messages_fr import DETAILS_FR
from sika.core.config import Settings
from tests.foundation.test_routes_declare_scopes import PUBLIC_ROUTES
from tests.support.factories import funded_wallet, party_with_wallet
from tests.support.routes import Route, api_routes
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (the grouped path's connections closed)

REQUIRED_MARK = "sika_idempotency_required"

MONEY_ROUTES = {
    "create_collection",
    "submit_collection_otp",
    "create_payout",
    "top_up",
    "place_hold",
    "capture_hold",
    "release_hold",
    "create_transfer",
    "create_journal_entry",
    "post_pending",
    "void_pending",
    "fund_escrow",
    "cancel_escrow",
    "approve_milestone",
    "resolve_milestone",
    "create_mandate",
    "top_up_mandate",
    "revoke_mandate",
    "create_purchase",
    "create_spend",
    "create_party_transfer",
    "submit_proofs",
    "decide_proof",
    "pay_instalment",
}
"""The routes that move money today; later ones join them by their mark."""

UPLOADS = {"submit_proofs"}
"""Money routes that take a multipart upload, not a JSON body (a JSON body gets 415 first)."""

MOVES_NO_MONEY = {
    "create_api_key",
    "create_platform",
    "create_party",
    "mint_party_token",
    "revoke_party_tokens",
    "open_wallet",
    "create_account",
    "close_account",
    "requeue_collection",
    "requeue_payout",
    "retry_webhook_event",
    "acknowledge_alert",
    "create_escrow",
    "deliver_milestone",
    "dispute_milestone",
    "create_spend_category",
    "create_merchant",
    "certify_merchant",
    "decertify_merchant",
    "add_payee",
    "add_to_allowlist",
    "certify_party",
    "set_proof_rule",
    "create_promo_code",
    "deactivate_promo_code",
    "create_webhook_endpoint",
    "rotate_webhook_secret",
    "retry_webhook_delivery",
    "replay_webhook_events",
    "create_plan",
    "cancel_plan",
    "stop_plan",
    "cancel_instalment",
    "stop_instalment",
    "add_reduction",
}
"""POSTs whose Idempotency-Key stays optional: they create or change something, but no money
(a retried webhook is processed once whatever the retries). Adding one here is a decision to review."""

TABLES_THAT_MOVE = (
    "ledger_transfers",
    "wallet_holds",
    "payments_collections",
    "payments_payouts",
    "escrows",
    "escrow_collections",
    "escrow_milestones",
    "mandates",
    "mandate_purchases",
    "mandate_spends",
    "transfers",
    "proofs",
    "events",
    "idempotency_keys",
)
UNKNOWN_ID = "unknown_0000"


def _posts(app: FastAPI) -> list[Route]:
    return [route for route in api_routes(app.routes) if "POST" in route.methods and route.name not in PUBLIC_ROUTES]


def test_every_money_route_requires_the_key_and_every_other_post_was_reviewed(app: FastAPI) -> None:
    required = {route.name for route in _posts(app) if route.marked(REQUIRED_MARK)}
    assert sorted(MONEY_ROUTES - required) == []
    assert sorted(required & MOVES_NO_MONEY) == []
    unreviewed = {route.name for route in _posts(app)} - required - MOVES_NO_MONEY
    assert sorted(unreviewed) == [], "a new POST: require its key if it moves money, else list it in MOVES_NO_MONEY"


def test_the_openapi_document_says_which_operations_require_the_key(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    documented = set()
    for route in _posts(app):
        operation = paths[route.path]["post"]
        header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        required = route.marked(REQUIRED_MARK)
        assert header["required"] is required, route.name
        assert ("428" in operation["responses"]) is required, route.name
        if required:
            documented.add(route.name)
            assert operation["responses"]["428"]["content"]["application/problem+json"], route.name
    assert sorted(MONEY_ROUTES - documented) == []


@pytest.fixture
async def keyless(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends an Idempotency-Key only when the test does (no hooks)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sika.test") as client:
        yield client


def _scopes(route: Route) -> set[str]:
    return next(set(call.sika_scopes) for call in route.dependency_calls() if hasattr(call, "sika_scopes"))


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            table: (await session.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))) or 0
            for table in TABLES_THAT_MOVE
        }


async def _money_world(
    client: httpx.AsyncClient, platform: dict[str, str], admin: dict[str, str]
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Ids for the money routes' paths (a route whose resource the world lacks gets an
    unknown id: the key is checked before the resource is looked up), and a body each
    route would accept."""
    buyer = await funded_wallet(client, platform, admin, 10_000)
    shop = await party_with_wallet(client, platform, display_name="Shop", type="business")
    hold = await client.post(
        f"/v1/wallets/{buyer.wallet_id}/holds", json={"amount_minor": 1_000, "reason": "order"}, headers=platform
    )
    assert hold.status_code == 201, hold.text
    accounts = []
    for kind in ("test.source", "test.sink"):
        made = await client.post("/v1/ledger/accounts", json={"currency": "XOF", "kind": kind}, headers=platform)
        assert made.status_code == 201, made.text
        accounts.append(made.json()["id"])
    leg = {
        "debit_account_id": accounts[0],
        "credit_account_id": accounts[1],
        "amount_minor": 500,
        "currency": "XOF",
        "code": "test",
    }
    pending = await client.post("/v1/ledger/transfers", json={**leg, "pending": True}, headers=platform)
    assert pending.status_code == 201, pending.text
    ids = {
        "number": "1",
        "wallet_id": buyer.wallet_id,
        "hold_id": hold.json()["id"],
        "transfer_id": pending.json()["id"],
    }
    mobile = {"operator": "mtn", "phone": "+2250700000001", "country": "CI"}
    bodies: dict[str, dict[str, Any]] = {
        "create_collection": {
            "party_id": buyer.party_id,
            "wallet_id": buyer.wallet_id,
            "amount_minor": 500,
            "currency": "XOF",
            "method": mobile,
        },
        "create_payout": {
            "party_id": buyer.party_id,
            "wallet_id": buyer.wallet_id,
            "amount_minor": 500,
            "currency": "XOF",
            "destination": {"operator": "mtn", "phone": "+2250700000001"},
            "recipient_name": "Awa Diallo",
            "reason": "withdrawal",
        },
        "submit_collection_otp": {"otp": "123456"},
        "top_up": {"amount_minor": 500},
        "place_hold": {"amount_minor": 500, "reason": "order"},
        "capture_hold": {"destination_wallet_id": shop.wallet_id, "platform_fee_minor": 0},
        "release_hold": {},
        "create_transfer": leg,
        "create_journal_entry": {"transfers": [leg]},
        "post_pending": {},
        "void_pending": {},
        "create_party_transfer": {
            "source_wallet_id": buyer.wallet_id,
            "destination_wallet_id": shop.wallet_id,
            "amount_minor": 500,
        },
    }
    return ids, bodies


async def test_without_a_key_every_money_route_is_refused_428_and_nothing_moves(
    app: FastAPI,
    client: httpx.AsyncClient,
    keyless: httpx.AsyncClient,
    platform_headers: dict[str, str],
    admin_headers: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids, bodies = await _money_world(client, platform_headers, admin_headers)
    before = await _counts(sessions)
    wallet_before = (await client.get(f"/v1/wallets/{ids['wallet_id']}", headers=platform_headers)).json()
    money_routes = [route for route in _posts(app) if route.marked(REQUIRED_MARK)]
    assert {route.name for route in money_routes} >= MONEY_ROUTES
    for route in money_routes:
        # A caller the route admits: the refusal is the missing key's, not the caller's.
        path = route.path.format_map(
            {param.name: ids.get(param.name, UNKNOWN_ID) for param in route.dependant.path_params}
        )
        headers = platform_headers if "platform" in _scopes(route) else admin_headers
        if route.name in UPLOADS:
            response = await keyless.post(
                path, files={"files": ("site.jpg", b"not read", "image/jpeg")}, headers=headers
            )
        else:
            response = await keyless.post(path, json=bodies.get(route.name, {}), headers=headers)
        assert response.status_code == 428, (route.name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "idempotency_key_required"
    assert await _counts(sessions) == before
    wallet_after = (await client.get(f"/v1/wallets/{ids['wallet_id']}", headers=platform_headers)).json()
    assert wallet_after == wallet_before


async def test_the_refusal_says_why_in_english_and_in_french(
    client: httpx.AsyncClient,
    keyless: httpx.AsyncClient,
    platform_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    wallet = (await funded_wallet(client, platform_headers, admin_headers, 1_000)).wallet_id
    hold = {"amount_minor": 100, "reason": "order"}
    english = await keyless.post(f"/v1/wallets/{wallet}/holds", json=hold, headers=platform_headers)
    assert english.status_code == 428
    assert english.json()["title"] == "Precondition required"
    assert "Idempotency-Key" in english.json()["detail"]
    assert "moving the money a second time" in english.json()["detail"]
    french = await keyless.post(
        f"/v1/wallets/{wallet}/holds", json=hold, headers={**platform_headers, "accept-language": "fr"}
    )
    assert french.status_code == 428
    assert french.json()["detail"] == DETAILS_FR["idempotency_key_required"]
    assert french.json()["detail_en"] == english.json()["detail"]
    with_key = await keyless.post(
        f"/v1/wallets/{wallet}/holds", json=hold, headers={**platform_headers, "Idempotency-Key": "order-1"}
    )
    assert with_key.status_code == 201, with_key.text


async def test_other_posts_still_take_no_key(keyless: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
    party = {"display_name": "Awa Diallo", "type": "individual", "country": "SN"}
    response = await keyless.post("/v1/parties", json=party, headers=platform_headers)
    assert response.status_code == 201, response.text
    opened = await keyless.post(
        f"/v1/parties/{response.json()['id']}/wallets", json={"currency": "XOF"}, headers=platform_headers
    )
    assert opened.status_code == 201, opened.text
    hold = {"amount_minor": 100, "reason": "order"}
    refused = await keyless.post(f"/v1/wallets/{opened.json()['id']}/holds", json=hold, headers=platform_headers)
    assert refused.status_code == 428, "while the money route beside them requires it"


async def test_the_setting_decides_whether_money_routes_take_no_key(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    keyless: httpx.AsyncClient,
    platform_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    wallet = (await funded_wallet(client, platform_headers, admin_headers, 1_000)).wallet_id
    hold = {"amount_minor": 100, "reason": "order"}
    assert settings.REQUIRE_IDEMPOTENCY_KEY is True, "on unless turned off"
    refused = await keyless.post(f"/v1/wallets/{wallet}/holds", json=hold, headers=platform_headers)
    assert refused.status_code == 428, refused.text
    app.state.settings = settings.model_copy(update={"REQUIRE_IDEMPOTENCY_KEY": False})
    taken = await keyless.post(f"/v1/wallets/{wallet}/holds", json=hold, headers=platform_headers)
    assert taken.status_code == 201, taken.text
    assert taken.json()["wallet"]["held_minor"] == 100
