"""Platform fees land in that platform's own fee account, per currency: the fee a
capture asks for, or else the platform's fee policy's; the party summary and the
platform's fees say how much."""

from __future__ import annotations

from typing import Any

import httpx

from sika.wallets import service as wallets_service
from tests.support.factories import create_party, funded_wallet, open_wallet, party_headers
from tests.support.ledger import Sessions, balance, snapshot
from tests.support.platforms import create_platform, key_headers

POLICY = {"XOF": {"percent_bps": 150, "fixed_minor": 25}}
"""1.5 % plus 25 F: on 10,000 F, 150 + 25 = 175."""


async def hold(client: httpx.AsyncClient, headers: dict[str, str], wallet_id: str, amount_minor: int) -> str:
    response = await client.post(
        f"/v1/wallets/{wallet_id}/holds", json={"amount_minor": amount_minor, "reason": "order"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def capture(client: httpx.AsyncClient, headers: dict[str, str], hold_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v1/holds/{hold_id}/capture", json=body, headers=headers)


async def balance_of(client: httpx.AsyncClient, headers: dict[str, str], wallet_id: str) -> int:
    response = await client.get(f"/v1/wallets/{wallet_id}", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["balance_minor"])


async def fees_of(client: httpx.AsyncClient, headers: dict[str, str], platform_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/platforms/{platform_id}/fees", headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_capture_without_a_fee_takes_the_policy_fee_into_its_own_platforms_account(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform_headers: dict[str, str], sessions: Sessions
) -> None:
    market = await create_platform(client, admin_headers, fee_policy=POLICY)
    headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=market["id"])
    buyer = await funded_wallet(client, headers, admin_headers, 20_000)
    seller = await create_party(client, headers, display_name="Boutique Kofi")
    seller_wallet = await open_wallet(client, headers, seller["id"])

    captured = await capture(
        client, headers, await hold(client, headers, buyer.wallet_id, 10_000), destination_wallet_id=seller_wallet["id"]
    )
    assert captured.status_code == 200, captured.text
    account_id = wallets_service.fee_account_id(market["id"], "XOF")
    assert (await balance(sessions, account_id)).posted_minor == 175
    assert await balance_of(client, admin_headers, seller_wallet["id"]) == 9_825
    assert await fees_of(client, headers, market["id"]) == [
        {"currency": "XOF", "account_id": account_id, "earned_minor": 175}
    ]
    # The default platform, which has no policy, earned nothing from it.
    assert await fees_of(client, platform_headers, "plt_default") == []
    summary = (await client.get(f"/v1/parties/{buyer.party_id}/summary", headers=headers)).json()
    assert summary["platform_id"] == market["id"]
    assert [(c["currency"], c["fees_paid_this_month_minor"]) for c in summary["currencies"]] == [("XOF", 175)]


async def test_a_fee_asked_for_overrides_the_policy(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    market = await create_platform(client, admin_headers, fee_policy=POLICY)
    headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=market["id"])
    buyer = await funded_wallet(client, headers, admin_headers, 20_000)
    seller = await open_wallet(client, headers, (await create_party(client, headers))["id"])
    for asked, hold_amount in ((0, 4_000), (300, 6_000)):
        held = await hold(client, headers, buyer.wallet_id, hold_amount)
        response = await capture(client, headers, held, destination_wallet_id=seller["id"], platform_fee_minor=asked)
        assert response.status_code == 200, response.text
    assert (await balance(sessions, wallets_service.fee_account_id(market["id"], "XOF"))).posted_minor == 300
    assert await balance_of(client, admin_headers, seller["id"]) == 4_000 + 5_700


async def test_each_platform_is_paid_into_its_own_account(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    paid: dict[str, int] = {}
    for name, fee in (("Marché Dakar", 100), ("Accra Mall", 40)):
        platform = await create_platform(client, admin_headers, name=name)
        headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=platform["id"])
        buyer = await funded_wallet(client, headers, admin_headers, 5_000)
        seller = await open_wallet(client, headers, (await create_party(client, headers))["id"])
        held = await hold(client, headers, buyer.wallet_id, 1_000)
        response = await capture(client, headers, held, destination_wallet_id=seller["id"], platform_fee_minor=fee)
        assert response.status_code == 200, response.text
        paid[platform["id"]] = fee
    for platform_id, fee in paid.items():
        assert (await balance(sessions, wallets_service.fee_account_id(platform_id, "XOF"))).posted_minor == fee
        fees = await fees_of(client, admin_headers, platform_id)
        assert [(f["currency"], f["earned_minor"]) for f in fees] == [("XOF", fee)]


async def test_a_party_token_capture_pays_the_policy_fee_and_sets_none_of_its_own(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    market = await create_platform(client, admin_headers, fee_policy={"XOF": {"percent_bps": 1_000}})
    headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=market["id"])
    buyer = await funded_wallet(client, headers, admin_headers, 5_000)
    seller = await open_wallet(client, headers, (await create_party(client, headers))["id"])
    as_buyer = await party_headers(client, headers, buyer.party_id)
    held = await hold(client, as_buyer, buyer.wallet_id, 2_000)

    before = await snapshot(sessions)
    refused = await capture(client, as_buyer, held, destination_wallet_id=seller["id"], platform_fee_minor=0)
    assert (refused.status_code, refused.json()["code"]) == (403, "party_cannot_set_fee")
    assert await snapshot(sessions) == before

    captured = await capture(client, as_buyer, held, destination_wallet_id=seller["id"])
    assert captured.status_code == 200, captured.text
    assert (await balance(sessions, wallets_service.fee_account_id(market["id"], "XOF"))).posted_minor == 200
    assert await balance_of(client, admin_headers, seller["id"]) == 1_800


async def test_the_fee_never_exceeds_what_is_captured(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    market = await create_platform(client, admin_headers, fee_policy={"XOF": {"fixed_minor": 500}})
    headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=market["id"])
    buyer = await funded_wallet(client, headers, admin_headers, 1_000)
    seller = await open_wallet(client, headers, (await create_party(client, headers))["id"])
    held = await hold(client, headers, buyer.wallet_id, 300)
    response = await capture(client, headers, held, destination_wallet_id=seller["id"])
    assert response.status_code == 200, response.text
    assert (await balance(sessions, wallets_service.fee_account_id(market["id"], "XOF"))).posted_minor == 300
    assert await balance_of(client, admin_headers, seller["id"]) == 0
