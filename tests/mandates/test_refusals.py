"""Issue 16's refusals, one row each: every rule a mandate, a top-up, a purchase, a
spend or a revocation can be refused by answers its status and the code naming the
rule, and moves nothing: the ledger, every table (events and audit rows among them)
and the mandate as shown are as they were."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from tests.mandates.conftest import Cast, act, create, mandate_body
from tests.support.factories import owner
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers

Sessions = async_sessionmaker[AsyncSession]
Mandate = dict[str, Any]


@dataclass(frozen=True)
class Call:
    path: str
    """Under ``/v1``."""
    body: dict[str, Any] | None
    headers: dict[str, str]


Setup = Callable[[httpx.AsyncClient, Cast, Sessions], Awaitable[Call]]


async def _with_payee(client: httpx.AsyncClient, cast: Cast, **limits: int) -> tuple[Mandate, str]:
    mandate = await create(client, cast, 20_000)
    added = await act(client, mandate, "payees", cast.platform, {"party_id": cast.payee.party_id, **limits})
    assert added.status_code == 201, added.text
    payee_id: str = added.json()["payees"][0]["id"]
    return mandate, payee_id


def _buy(mandate: Mandate, cast: Cast, merchant: dict[str, Any], amount: int, headers: dict[str, str]) -> Call:
    body = {"merchant_id": merchant["id"], "amount_minor": amount, "reference": "invoice 7"}
    return Call(f"/v1/mandates/{mandate['id']}/purchases", body, headers)


async def not_allowed(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return _buy(await create(client, cast), cast, cast.pharmacy, 1_000, cast.beneficiary.headers)


async def not_certified(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast, allowed_category_ids=[cast.categories["pharmacy"]])
    return _buy(mandate, cast, cast.pharmacy, 1_000, cast.beneficiary.headers)


async def not_active(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast)
    assert (await act(client, mandate, "revoke", cast.platform)).status_code == 200
    return _buy(mandate, cast, cast.school, 1_000, cast.beneficiary.headers)


async def _past_expiry(sessions: Sessions, mandate: Mandate) -> None:
    """The mandate's expiry passed a minute ago; the job has not reached it yet."""
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE mandates SET expires_at = :at WHERE id = :id"),
            {"at": clock.now() - timedelta(minutes=1), "id": mandate["id"]},
        )


async def expired(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast)
    await _past_expiry(sessions, mandate)
    return _buy(mandate, cast, cast.school, 1_000, cast.beneficiary.headers)


async def above_maximum(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast, max_purchase_minor=5_000)
    return _buy(mandate, cast, cast.school, 5_001, cast.beneficiary.headers)


async def above_remaining(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return _buy(await create(client, cast, 3_000), cast, cast.school, 3_001, cast.beneficiary.headers)


async def consumed(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast, 2_000)
    bought = _buy(mandate, cast, cast.school, 2_000, cast.beneficiary.headers)
    assert (await client.post(bought.path, json=bought.body, headers=bought.headers)).status_code == 201
    return _buy(mandate, cast, cast.school, 1, cast.beneficiary.headers)


async def sender_buys(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return _buy(await create(client, cast), cast, cast.school, 1_000, cast.sender.headers)


async def stranger_buys(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return _buy(await create(client, cast), cast, cast.school, 1_000, cast.other.headers)


async def unknown_merchant(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return _buy(await create(client, cast), cast, {"id": "mer_nothing"}, 1_000, cast.beneficiary.headers)


async def merchant_without_wallet(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast, currency="XOF")
    ghs_shop = await owner(client, cast.platform, display_name="Accra Books", type="business", currency="GHS")
    body = {"party_id": ghs_shop.party_id, "category_id": cast.categories["school"]}
    merchant = (await client.post("/v1/merchants", json=body, headers=cast.platform)).json()
    assert (
        await client.post(f"/v1/merchants/{merchant['id']}/certify", json={}, headers=cast.support)
    ).status_code == 200
    return _buy(mandate, cast, merchant, 1_000, cast.beneficiary.headers)


def _spend(mandate: Mandate, payee_id: str, amount: int) -> Call:
    body = {"payee_id": payee_id, "amount_minor": amount, "reference": "rent"}
    return Call(f"/v1/mandates/{mandate['id']}/spends", body, {})


async def over_daily(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate, payee = await _with_payee(client, cast, daily_limit_minor=3_000)
    assert (await act(client, mandate, "spends", cast.platform, _spend(mandate, payee, 2_000).body)).status_code == 201
    return _spend(mandate, payee, 1_001)


async def over_total(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate, payee = await _with_payee(client, cast, total_limit_minor=3_000, daily_limit_minor=10_000)
    return _spend(mandate, payee, 3_001)


async def spend_above_remaining(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate, payee = await _with_payee(client, cast, total_limit_minor=50_000)
    return _spend(mandate, payee, 20_001)


async def unknown_payee(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return _spend(await create(client, cast), "mpy_nothing", 1_000)


async def spend_expired(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate, payee = await _with_payee(client, cast, total_limit_minor=5_000)
    await _past_expiry(sessions, mandate)
    return _spend(mandate, payee, 1_000)


async def short_of_funds(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return Call("/v1/mandates", mandate_body(cast, 100_001), {})


async def second_active(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    await create(client, cast)
    return Call("/v1/mandates", mandate_body(cast, 1_000), {})


async def to_oneself(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return Call("/v1/mandates", mandate_body(cast, 1_000, beneficiary_party_id=cast.sender.party_id), {})


async def expiry_past(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    past = (clock.now() - timedelta(seconds=1)).isoformat()
    return Call("/v1/mandates", mandate_body(cast, 1_000, expires_at=past), {})


async def unknown_category(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return Call("/v1/mandates", mandate_body(cast, 1_000, allowed_category_ids=["cat_nothing"]), {})


async def sender_without_wallet(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return Call("/v1/mandates", mandate_body(cast, 1_000, currency="GHS"), {})


async def top_up_short(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast, 20_000)
    return Call(f"/v1/mandates/{mandate['id']}/top-ups", {"amount_minor": 80_001}, {})


async def top_up_ended(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast)
    assert (await act(client, mandate, "revoke", cast.platform)).status_code == 200
    return Call(f"/v1/mandates/{mandate['id']}/top-ups", {"amount_minor": 1_000}, {})


async def revoke_twice(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast)
    assert (await act(client, mandate, "revoke", cast.platform)).status_code == 200
    return Call(f"/v1/mandates/{mandate['id']}/revoke", None, {})


async def beneficiary_revokes(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast)
    return Call(f"/v1/mandates/{mandate['id']}/revoke", None, cast.beneficiary.headers)


async def beneficiary_adds_payee(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    mandate = await create(client, cast)
    body = {"party_id": cast.other.party_id, "total_limit_minor": 1_000}
    return Call(f"/v1/mandates/{mandate['id']}/payees", body, cast.beneficiary.headers)


async def platform_certifies(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> Call:
    return Call(f"/v1/merchants/{cast.pharmacy['id']}/certify", {}, cast.platform)


REFUSALS: dict[str, tuple[Setup, int, str]] = {
    "merchant not allowed": (not_allowed, 409, "mandate_merchant_not_allowed"),
    "merchant not certified": (not_certified, 409, "mandate_merchant_not_certified"),
    "mandate not active": (not_active, 409, "mandate_not_active"),
    "mandate expired": (expired, 409, "mandate_expired"),
    "above the per-purchase maximum": (above_maximum, 409, "mandate_purchase_above_maximum"),
    "above the remaining": (above_remaining, 409, "mandate_insufficient"),
    "nothing left: consumed": (consumed, 409, "mandate_insufficient"),
    "the sender buys": (sender_buys, 403, "mandate_action_not_allowed"),
    "a stranger buys": (stranger_buys, 403, "not_owned_by_party"),
    "unknown merchant": (unknown_merchant, 404, "merchant_not_found"),
    "merchant without a wallet in the currency": (merchant_without_wallet, 409, "mandate_party_has_no_wallet"),
    "past the daily limit": (over_daily, 409, "mandate_daily_limit_exceeded"),
    "past the total limit": (over_total, 409, "mandate_total_limit_exceeded"),
    "spend above the remaining": (spend_above_remaining, 409, "mandate_insufficient"),
    "unknown payee": (unknown_payee, 404, "mandate_payee_not_found"),
    "spend on an expired mandate": (spend_expired, 409, "mandate_expired"),
    "sender short of funds": (short_of_funds, 409, "insufficient_funds"),
    "a second active mandate": (second_active, 409, "mandate_exists"),
    "sender is the beneficiary": (to_oneself, 422, "mandate_parties_invalid"),
    "expiry in the past": (expiry_past, 422, "mandate_expiry_invalid"),
    "unknown category": (unknown_category, 422, "mandate_catalogue_unknown"),
    "sender without a wallet in the currency": (sender_without_wallet, 409, "mandate_party_has_no_wallet"),
    "top-up short of funds": (top_up_short, 409, "insufficient_funds"),
    "top-up of an ended mandate": (top_up_ended, 409, "mandate_not_active"),
    "revoked twice": (revoke_twice, 409, "mandate_not_active"),
    "the beneficiary revokes": (beneficiary_revokes, 403, "mandate_action_not_allowed"),
    "the beneficiary names a payee": (beneficiary_adds_payee, 403, "mandate_action_not_allowed"),
    "a platform key certifies": (platform_certifies, 403, "permission_denied"),
}


async def _footprint(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> tuple[Any, ...]:
    mandates = (await client.get("/v1/mandates", params={"limit": 200}, headers=cast.platform)).json()
    merchants = (await client.get("/v1/merchants", params={"limit": 200}, headers=cast.platform)).json()
    return await snapshot(sessions), await rows_beside_answers(sessions), mandates, merchants


@pytest.mark.parametrize("reason", sorted(REFUSALS))
async def test_each_refusal_names_its_rule_and_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, reason: str
) -> None:
    setup, status, code = REFUSALS[reason]
    call = await setup(client, cast, sessions)
    before = await _footprint(client, cast, sessions)
    response = await client.post(call.path, json=call.body, headers=call.headers or cast.platform)
    assert (response.status_code, response.json().get("code")) == (status, code), f"{reason}: {response.text}"
    assert response.json()["status"] == status, "the problem's status is its HTTP status, never a state"
    if code in ("mandate_not_active", "mandate_expired"):
        assert response.json()["mandate_status"] in ("active", "consumed", "expired", "revoked"), response.text
    assert await _footprint(client, cast, sessions) == before, reason
