"""The payments' invariants hold on collections and payouts that ran their
course through the sandbox, and each finds the breach it is there for once a
row is changed by hand behind the flows' backs."""

from __future__ import annotations

import sqlalchemy as sa

from sika.core import db, invariants
from tests.support.factories import PartyWallet
from tests.support.payments import World, collection_body, deliver, mobile_money, payout_body
from tests.support.tasks import nothing_left_running  # noqa: F401 (closes the grouped path's connections)

AMOUNT = 5_000
PAYMENT_CHECKS = {"collection_credits", "payout_holds"}


async def payment_results(world: World) -> dict[str, invariants.CheckResult]:
    async with db.transaction(world.sessions) as session:
        report = await invariants.check_all(session)
    return {result.name: result for result in report.results if result.domain == "payments"}


async def by_hand(world: World, statement: str, **params: object) -> None:
    async with db.transaction(world.sessions) as session:
        await session.execute(sa.text(statement), params)


async def succeeded_collection(world: World, who: PartyWallet) -> str:
    started = await world.collect(collection_body(who, amount_minor=AMOUNT, method=mobile_money("mtn")))
    assert started.status_code == 201, started.text
    await world.deliver(1)
    await world.run_jobs()
    collection_id: str = started.json()["id"]
    assert (await world.shown("collections", collection_id))["status"] == "succeeded"
    return collection_id


async def succeeded_payout(world: World, who: PartyWallet, *, webhooks_before: int = 0) -> str:
    response = await world.pay_out(payout_body(who, amount_minor=AMOUNT))
    assert response.status_code == 201, response.text
    confirmation = (await world.sandbox.receiver.wait_for(webhooks_before + 1))[-1]
    assert (await deliver(world.client, confirmation)).status_code == 200
    await world.run_jobs()
    payout_id: str = response.json()["id"]
    assert (await world.shown("payouts", payout_id))["status"] == "succeeded"
    return payout_id


async def test_every_payments_check_is_registered_and_holds_after_real_flows(world: World, kofi: PartyWallet) -> None:
    await succeeded_collection(world, kofi)
    await succeeded_payout(world, kofi, webhooks_before=1)
    results = await payment_results(world)
    assert set(results) == PAYMENT_CHECKS
    assert {name: result.breach_count for name, result in results.items()} == dict.fromkeys(PAYMENT_CHECKS, 0)


async def test_a_collection_whose_credit_is_not_its_amount_is_a_breach(world: World, kofi: PartyWallet) -> None:
    collection_id = await succeeded_collection(world, kofi)
    await by_hand(
        world, "UPDATE payments_collections SET amount_minor = amount_minor + 1 WHERE id = :id", id=collection_id
    )

    result = (await payment_results(world))["collection_credits"]
    assert result.breach_count == 1
    assert [(b.entity_type, b.entity_id) for b in result.breaches] == [("collection", collection_id)]


async def test_a_failed_collection_with_a_credit_is_a_breach(world: World, kofi: PartyWallet) -> None:
    collection_id = await succeeded_collection(world, kofi)
    await by_hand(
        world,
        "UPDATE payments_collections SET status = 'failed', credit_transfer_id = NULL WHERE id = :id",
        id=collection_id,
    )

    result = (await payment_results(world))["collection_credits"]
    assert [(b.entity_id, b.data["status"]) for b in result.breaches] == [(collection_id, "failed")]


async def test_an_open_payout_whose_hold_was_captured_is_a_breach(world: World, kofi: PartyWallet) -> None:
    await world.top_up(kofi, AMOUNT)
    payout_id = await succeeded_payout(world, kofi)
    await by_hand(
        world, "UPDATE payments_payouts SET status = 'processing', completed_at = NULL WHERE id = :id", id=payout_id
    )

    result = (await payment_results(world))["payout_holds"]
    assert [(b.entity_id, b.data) for b in result.breaches] == [
        (payout_id, {"status": "processing", "resolution": "post_pending"})
    ]


async def test_a_failed_payout_whose_hold_was_captured_is_a_breach(world: World, kofi: PartyWallet) -> None:
    await world.top_up(kofi, AMOUNT)
    payout_id = await succeeded_payout(world, kofi)
    await by_hand(world, "UPDATE payments_payouts SET status = 'failed' WHERE id = :id", id=payout_id)

    result = (await payment_results(world))["payout_holds"]
    assert [b.entity_id for b in result.breaches] == [payout_id]
    assert (await payment_results(world))["collection_credits"].breach_count == 0


async def test_a_reversed_payout_without_its_reversal_transfer_is_a_breach(world: World, kofi: PartyWallet) -> None:
    await world.top_up(kofi, AMOUNT)
    payout_id = await succeeded_payout(world, kofi)
    await by_hand(world, "UPDATE payments_payouts SET status = 'reversed' WHERE id = :id", id=payout_id)

    result = (await payment_results(world))["payout_holds"]
    assert [(b.entity_id, b.data) for b in result.breaches] == [
        (payout_id, {"status": "reversed", "resolution": "post_pending"})
    ]
