"""GET /v1/search: each key a customer or an integrator knows finds its object; a
support key bound to a platform finds its platform's objects only; a platform
key is refused; bad input is a 422 problem."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.search.conftest import IDEMPOTENCY_KEY, PARTY_EMAIL, PARTY_PHONE, PROVIDER_REFERENCE
from tests.support.operations import row_counts
from tests.support.payments import SUCCESS_PHONE
from tests.tenancy.world import Sessions, TwoPlatforms

Searched = tuple[dict[str, Any], str, str]
"""The query parameters, the group that must hold the object, the world's name of its id."""


def searches(world: TwoPlatforms) -> dict[str, Searched]:
    """Every key, by name, as a support agent would type it, for one of B's objects."""
    b = world.b.ids
    return {
        "party id": ({"q": b["party_id"]}, "parties", "party_id"),
        "wallet id": ({"q": b["wallet_id"]}, "wallets", "wallet_id"),
        "wallet account id": ({"q": world.b.more["wallet_account"]}, "wallets", "wallet_id"),
        "collection id (our reference to the provider)": ({"q": b["collection_id"]}, "collections", "collection_id"),
        "derived id": ({"q": f"{b['collection_id']}.credit"}, "collections", "collection_id"),
        "payout id": ({"q": b["payout_id"]}, "payouts", "payout_id"),
        "payout id finds its hold": ({"q": b["payout_id"]}, "holds", "payout_hold"),
        "payout id finds its webhook event": ({"q": b["payout_id"]}, "webhook_events", "event_id"),
        "hold id": ({"q": b["hold_id"]}, "holds", "hold_id"),
        "payout's hold id finds the payout": ({"q": world.b.more["payout_hold"]}, "payouts", "payout_id"),
        "webhook event id": ({"q": b["event_id"]}, "webhook_events", "event_id"),
        "provider's event id": ({"q": f"evt-{b['payout_id']}"}, "webhook_events", "event_id"),
        "phone, E.164": ({"q": SUCCESS_PHONE}, "collections", "collection_id"),
        "phone, as written on a receipt": ({"q": "00225 07 00 00 01 01"}, "payouts", "payout_id"),
        "phone, last digits": ({"q": "00 01 01"}, "collections", "collection_id"),
        "party phone, local digits": ({"q": PARTY_PHONE[4:]}, "parties", "party_id"),
        "party email, any case": ({"q": PARTY_EMAIL.upper()}, "parties", "party_id"),
        "customer email": ({"q": "b@example.ci"}, "collections", "collection_id"),
        "provider reference": ({"q": PROVIDER_REFERENCE}, "collections", "collection_id"),
        "idempotency key": ({"q": IDEMPOTENCY_KEY}, "collections", "collection_id"),
        "amount": ({"amount_minor": 3_000}, "collections", "collection_id"),
        "amount, currency and window": (
            {
                "amount_minor": 2_000,
                "currency": "XOF",
                "since": "2000-01-01T00:00:00Z",
                "until": "2999-01-01T00:00:00Z",
            },
            "payouts",
            "payout_id",
        ),
        "phone suffix and amount": ({"q": "0101", "amount_minor": 2_000}, "payouts", "payout_id"),
        "escrow id": ({"q": b["escrow_id"]}, "escrows", "escrow_id"),
        "party id finds its escrow": ({"q": b["party_id"]}, "escrows", "escrow_id"),
        "proof id": ({"q": b["proof_id"]}, "proofs", "proof_id"),
        "escrow id finds its proofs": ({"q": b["escrow_id"]}, "proofs", "proof_id"),
        "mandate id": ({"q": b["mandate_id"]}, "mandates", "mandate_id"),
        "party id finds its mandate": ({"q": b["party_id"]}, "mandates", "mandate_id"),
        "transfer id": ({"q": b["party_transfer_id"]}, "transfers", "party_transfer_id"),
        "party id finds its transfer": ({"q": b["party_id"]}, "transfers", "party_transfer_id"),
        "webhook delivery id": ({"q": b["delivery_id"]}, "webhook_deliveries", "delivery_id"),
        "promo code id": ({"q": b["promo_code_id"]}, "promo_codes", "promo_code_id"),
        "promo code, any case": ({"q": "welcome10"}, "promo_codes", "promo_code_id"),
        "instalment plan id": ({"q": b["plan_id"]}, "instalment_plans", "plan_id"),
        "party id finds its instalment plan": ({"q": b["party_id"]}, "instalment_plans", "plan_id"),
        "instalment id": ({"q": b["instalment_id"]}, "instalments", "instalment_id"),
        "plan id finds its instalments": ({"q": b["plan_id"]}, "instalments", "instalment_id"),
    }


def _id(world: TwoPlatforms, name: str) -> str:
    return {**world.b.ids, **world.b.more}[name]


async def test_each_key_finds_its_object(client: httpx.AsyncClient, world: TwoPlatforms) -> None:
    for name, (params, group, id_name) in searches(world).items():
        response = await client.get("/v1/search", params=params, headers=world.admin)
        assert response.status_code == 200, f"{name}: {response.text}"
        found = [hit["id"] for hit in response.json()[group]["data"]]
        assert _id(world, id_name) in found, f"{name}: {params} found {response.json()}"


async def test_a_hit_shows_its_state_and_amount(client: httpx.AsyncClient, world: TwoPlatforms) -> None:
    answer = (await client.get("/v1/search", params={"q": world.b.ids["payout_id"]}, headers=world.admin)).json()
    (payout,) = answer["payouts"]["data"]
    assert (payout["state"], payout["amount_minor"], payout["currency"]) == ("initiated", 2_000, "XOF")
    (hold,) = answer["holds"]["data"]
    assert (hold["state"], hold["amount_minor"]) == ("open", 2_000)
    assert answer["understood_as"] == ["id:payout", "reference"]
    wallet = (await client.get("/v1/search", params={"q": world.b.ids["wallet_id"]}, headers=world.admin)).json()
    # 50,000 topped up, 1,000 held over the API, 2,000 held for the payout, 3,000 paid into an escrow,
    # 2,000 into a mandate, 500 sent to another party.
    assert wallet["wallets"]["data"][0]["amount_minor"] == 41_500


async def test_a_bound_support_key_never_finds_another_platforms_object(
    client: httpx.AsyncClient, world: TwoPlatforms
) -> None:
    support = world.callers["A's support key"]
    foreign = world.b.every_id()
    for name, (params, _, _) in searches(world).items():
        response = await client.get("/v1/search", params=params, headers=support)
        assert response.status_code == 200, f"{name}: {response.text}"
        sent = " ".join(str(value) for value in params.values())
        leaked = sorted(value for value in foreign if value in response.text and value not in sent)
        assert leaked == [], f"{name}: {leaked}"
        groups = [group for group in response.json().values() if isinstance(group, dict)]
        # A's own objects may match too (both sides hold a 3,000 escrow); none of another platform.
        found = [hit for group in groups for hit in group["data"]]
        assert all(hit["platform_id"] == world.a.platform_id for hit in found), f"{name}: {response.json()}"
    # Not an empty answer for everything: A's own party is found.
    own = await client.get("/v1/search", params={"q": world.a.ids["party_id"]}, headers=support)
    assert [hit["id"] for hit in own.json()["parties"]["data"]] == [world.a.ids["party_id"]]


async def test_a_platform_key_is_refused(client: httpx.AsyncClient, world: TwoPlatforms, sessions: Sessions) -> None:
    before = await row_counts(sessions)
    for caller in ("A's platform key", "a token of A's party"):
        response = await client.get("/v1/search", params={"q": SUCCESS_PHONE}, headers=world.callers[caller])
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert world.b.ids["collection_id"] not in response.text
    assert await row_counts(sessions) == before


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"amount_minor": "0"},
        {"amount_minor": "-5"},
        {"amount_minor": "1.5"},
        {"amount_minor": "lots"},
        {"amount_minor": str(2**63)},
        {"amount_minor": "100", "currency": "xof"},
        {"q": "abc", "currency": "XOF"},
        {"q": "abc", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"q": "abc", "since": "yesterday"},
    ],
)
async def test_bad_input_is_a_422_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions, params: dict[str, str]
) -> None:
    before = await row_counts(sessions)
    response = await client.get("/v1/search", params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]
    assert await row_counts(sessions) == before
