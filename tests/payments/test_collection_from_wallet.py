"""A collection named by its wallet alone: the party is the wallet's. Given both and
disagreeing, the refusal names the two fields; a wallet of another platform is not
found. Refusals leave nothing behind: no row, event, audit, transfer, job, nor any
call to the provider."""

from __future__ import annotations

from typing import Any

from tests.support.factories import PartyWallet, party_headers, party_with_wallet
from tests.support.payments import World, assert_ledger_clean, collection_body, mobile_money, payer
from tests.support.platforms import create_platform, key_headers

AMOUNT = 3000


def by_wallet(who: PartyWallet, **extra: Any) -> dict[str, Any]:
    body = collection_body(who, amount_minor=AMOUNT, method={"type": "card", "card_token": "pm_card_visa"})
    del body["party_id"]
    return {**body, **extra}


class TestCollectionFromWallet:
    async def test_the_wallet_alone_is_enough_and_its_party_pays(self, world: World, kofi: PartyWallet) -> None:
        response = await world.collect(by_wallet(kofi))
        assert response.status_code == 201, response.text
        collection = response.json()
        assert (collection["party_id"], collection["wallet_id"], collection["status"]) == (
            kofi.party_id,
            kofi.wallet_id,
            "succeeded",
        )
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)

    async def test_a_party_token_collects_into_its_own_wallet_by_the_wallet_alone(
        self, world: World, kofi: PartyWallet
    ) -> None:
        token = await party_headers(world.client, world.platform, kofi.party_id)
        response = await world.collect(by_wallet(kofi), headers=token)
        assert response.status_code == 201, response.text
        assert response.json()["party_id"] == kofi.party_id

    async def test_a_party_and_a_wallet_that_disagree_are_refused_naming_both_fields(
        self, world: World, kofi: PartyWallet
    ) -> None:
        other = await payer(world.client, world.platform)
        before = await world.footprint()
        response = await world.collect(
            collection_body(
                PartyWallet(party=other.party, wallet=kofi.wallet), amount_minor=AMOUNT, method=mobile_money("mtn")
            )
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "wallet_not_of_party"
        assert f"wallet_id {kofi.wallet_id}" in problem["detail"]
        assert f"party_id {other.party_id}" in problem["detail"]
        assert [error["field"] for error in problem["errors"]] == ["body.party_id", "body.wallet_id"]
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (0, 0)

    async def test_a_wallet_of_another_platform_is_not_found(self, world: World) -> None:
        platform = await create_platform(world.client, world.admin)
        theirs = await key_headers(world.client, world.admin, scopes=["platform"], platform_id=platform["id"])
        stranger = await party_with_wallet(world.client, theirs, email="ama@example.sn")
        before = await world.footprint()
        refused = [
            await world.collect(body) for body in (by_wallet(stranger), by_wallet(stranger, party_id=stranger.party_id))
        ]
        assert [(r.status_code, r.json()["code"]) for r in refused] == [
            (404, "wallet_not_found"),
            (404, "party_not_found"),
        ]
        assert await world.footprint() == before
        shown = await world.client.get(f"/v1/wallets/{stranger.wallet_id}", headers=theirs)
        assert shown.json()["balance_minor"] == 0
