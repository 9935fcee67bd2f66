"""A collection's credit and a payout's reversal are transfers with ids
derived from theirs. A platform key that sends a transfer with that id
first, between accounts of its own, is refused and moves nothing, and the
domain's own transfer still lands under its id."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.factories import PartyWallet
from tests.support.ledger import snapshot
from tests.support.payments import World, assert_ledger_clean, collection_body, deliver, mobile_money, payout_body
from tests.support.tasks import nothing_left_running  # noqa: F401 (closes the grouped path's connections)

AMOUNT = 5_000
FUNDS = 10_000


async def squat(world: World, transfer_id: str) -> httpx.Response:
    """Send a transfer of 1 with ``transfer_id`` between two accounts the platform key opens."""
    accounts = []
    for kind in ("world", "wallet"):
        opened = await world.client.post(
            "/v1/ledger/accounts", json={"currency": "XOF", "kind": kind}, headers=world.platform
        )
        assert opened.status_code == 201, opened.text
        accounts.append(opened.json()["id"])
    before = await snapshot(world.sessions)
    response = await world.client.post(
        "/v1/ledger/transfers",
        json={
            "id": transfer_id,
            "debit_account_id": accounts[0],
            "credit_account_id": accounts[1],
            "amount_minor": 1,
            "currency": "XOF",
            "code": "squat",
        },
        headers=world.platform,
    )
    assert await snapshot(world.sessions) == before
    return response


def assert_reserved(response: httpx.Response) -> None:
    assert (response.status_code, response.json()["code"]) == (422, "transfer_id_reserved"), response.text


async def test_a_collections_credit_id_taken_ahead_is_refused_and_the_credit_still_lands(
    world: World, kofi: PartyWallet
) -> None:
    started = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn")))
    assert started.status_code == 201, started.text
    collection: dict[str, Any] = started.json()
    assert collection["status"] == "action_required"

    assert_reserved(await squat(world, f"{collection['id']}.credit"))

    await world.deliver(1)
    await world.run_jobs()
    shown = await world.shown("collections", collection["id"])
    assert (shown["status"], shown["credit_transfer_id"]) == ("succeeded", f"{collection['id']}.credit")
    assert await world.wallet(kofi) == (AMOUNT, 0)
    await assert_ledger_clean(world.sessions)


async def test_a_payouts_reversal_id_taken_ahead_is_refused_and_the_money_still_comes_back(
    world: World, kofi: PartyWallet
) -> None:
    await world.top_up(kofi, FUNDS)
    # The sandbox confirms this number's payout, then reverses it.
    response = await world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone="+2250700000063"))
    assert response.status_code == 201, response.text
    payout: dict[str, Any] = response.json()

    assert_reserved(await squat(world, f"{payout['id']}.reversal"))

    reversed_, success = await world.sandbox.receiver.wait_for(2)
    for received in (success, reversed_):
        assert (await deliver(world.client, received)).status_code == 200
        await world.run_jobs()
    shown = await world.shown("payouts", payout["id"])
    assert (shown["status"], shown["reversal_transfer_id"]) == ("reversed", f"{payout['id']}.reversal")
    assert await world.wallet(kofi) == (FUNDS, 0)
    await assert_ledger_clean(world.sessions)
