"""A wallet's history names the collection or payout behind each entry, read from what
the ledger transfers already record (no new column): a collection's credit its
collection, a payout's hold entries and its reversal the payout."""

from __future__ import annotations

from typing import Any

from tests.support.factories import PartyWallet
from tests.support.payments import World, collection_body, deliver, payout_body

FUNDS = 10_000
AMOUNT = 4_000
REVERSED_PHONE = "+2250700000063"
"""The sandbox's ``webhook_out_of_order`` number: the transfer succeeds, then is reversed."""
STORY = (
    "captured_minor",
    "returned_minor",
    "destination_wallet_id",
    "destination_minor",
    "platform_fee_minor",
    "fee_account_id",
)


async def history(world: World, who: PartyWallet) -> list[tuple[Any, ...]]:
    response = await world.client.get(f"/v1/wallets/{who.wallet_id}/history", headers=world.platform)
    assert response.status_code == 200, response.text
    return [
        (entry["type"], entry["amount_minor"], entry["hold_id"], entry["collection_id"], entry["payout_id"])
        for entry in response.json()["data"]
    ]


class TestHistoryIds:
    async def test_a_collections_credit_names_the_collection(self, world: World, kofi: PartyWallet) -> None:
        card = {"type": "card", "card_token": "pm_card_visa"}
        collection = (await world.collect(collection_body(kofi, amount_minor=2500, method=card))).json()
        assert collection["status"] == "succeeded", collection
        assert await history(world, kofi) == [("credit", 2500, None, collection["id"], None)]

    async def test_a_payouts_hold_entries_and_its_reversal_name_the_payout(
        self, world: World, kofi: PartyWallet
    ) -> None:
        await world.top_up(kofi, FUNDS)
        payout = (await world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone=REVERSED_PHONE))).json()
        reversed_, success = await world.sandbox.receiver.wait_for(2)
        for webhook in (success, reversed_):
            assert (await deliver(world.client, webhook)).status_code == 200
            await world.run_jobs()
        assert (await world.shown("payouts", payout["id"]))["status"] == "reversed"

        hold_id, payout_id = payout["hold_id"], payout["id"]
        assert await history(world, kofi) == [
            ("credit", AMOUNT, None, None, payout_id),
            ("hold_captured", AMOUNT, hold_id, None, payout_id),
            ("hold_placed", AMOUNT, hold_id, None, payout_id),
            ("credit", FUNDS, None, None, None),
        ]
        # The payout's hold paid the provider: no wallet, no platform fee, nothing returned.
        hold = (await world.client.get(f"/v1/holds/{hold_id}", headers=world.platform)).json()
        assert [hold[field] for field in STORY] == [AMOUNT, 0, None, 0, 0, None]
