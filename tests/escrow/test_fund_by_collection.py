"""Funding an escrow by mobile money or card: ``POST /v1/escrows/{id}/fund`` with a
method starts a collection into the client's wallet, and the escrow is funded only
when that collection succeeds, in the transaction of its credit, whichever news
comes first (the webhook, or the provider's answer to the API: a card's at once,
an OTP's, reconciliation's lookup); the later news changes nothing. A failed
collection funds nothing; one the escrow can no longer take stays in the wallet."""

from __future__ import annotations

from typing import Any

import httpx

from sika.core import clock
from sika.payments import service as payments_service
from sika.payments import tasks as payments_tasks
from sika.providers import registry
from tests.escrow.conftest import Cast, act, escrow_body, events_of, scalar
from tests.support.factories import Owner, owner
from tests.support.payment_fixtures import client, settings, world
from tests.support.payments import OTP, SUCCESS_PHONE, World, assert_ledger_clean, count
from tests.support.sandbox import live, sandbox

__all__ = ["client", "live", "sandbox", "settings", "world"]

AMOUNT = 10_000
MTN = {"type": "mobile_money", "operator": "mtn", "phone": SUCCESS_PHONE}
DECLINED = {"type": "mobile_money", "operator": "mtn", "phone": "+2250700000051"}


async def escrow_of(client: httpx.AsyncClient, cast: Cast, buyer: Owner) -> dict[str, Any]:
    body = escrow_body(cast, AMOUNT, client_party_id=buyer.party_id)
    response = await client.post("/v1/escrows", json=body, headers=cast.platform)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def buyer(client: httpx.AsyncClient, cast: Cast) -> Owner:
    """A client with an empty wallet: whatever it deposits comes from the collection."""
    return await owner(client, cast.platform, display_name="Ama Buyer", email="ama@example.ci", country="CI")


async def fund(world: World, escrow: dict[str, Any], method: dict[str, Any], key: str) -> dict[str, Any]:
    response = await act(world.client, escrow, "fund", {**world.platform, "Idempotency-Key": key}, {"method": method})
    assert response.status_code == 200, response.text
    funded: dict[str, Any] = response.json()
    return funded


async def shown(world: World, escrow_id: str) -> dict[str, Any]:
    response = await world.client.get(f"/v1/escrows/{escrow_id}", headers=world.platform)
    found: dict[str, Any] = response.json()
    return found


async def deposits(world: World, escrow_id: str) -> int:
    return await count(world.sessions, "ledger_transfers", "id LIKE :prefix", prefix=f"{escrow_id}.deposit.%")


async def assert_funded_once(world: World, escrow_id: str, collection_id: str, payer: Owner) -> None:
    """Funded by the collection's one deposit; the client's wallet back to empty."""
    escrow = await shown(world, escrow_id)
    assert (escrow["status"], escrow["funded_minor"], escrow["held_minor"]) == ("funded", AMOUNT, AMOUNT)
    assert await deposits(world, escrow_id) == 1
    assert await world.wallet(payer) == (0, 0)
    assert await events_of(world.sessions, escrow_id) == ["escrow.funded"]
    funded = await world.client.get(
        "/v1/events", params={"entity_id": escrow_id, "type": "escrow.funded"}, headers=world.platform
    )
    assert [e["data"]["collection_id"] for e in funded.json()["data"]] == [collection_id]
    credited = await world.shown("collections", collection_id)
    assert (credited["status"], credited["wallet_id"]) == ("succeeded", payer.wallet_id)
    await assert_ledger_clean(world.sessions)


async def test_the_webhook_first_funds_the_escrow_when_the_collection_succeeds(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    payer = await buyer(client, cast)
    escrow = await escrow_of(client, cast, payer)
    started = await fund(world, escrow, MTN, "fund-mtn")
    assert (started["status"], started["funded_minor"]) == ("awaiting_funding", 0)
    assert started["collection"]["status"] == "action_required"
    assert started["collection"]["next_action"]["type"] == "approve_on_phone"
    assert started["collection"]["amount_minor"] == AMOUNT

    await world.deliver(1)
    assert (await shown(world, escrow["id"]))["status"] == "awaiting_funding", "stored, not yet processed"
    await world.run_jobs()
    await assert_funded_once(world, escrow["id"], started["collection"]["id"], payer)


async def test_the_api_answer_first_funds_it_and_the_webhook_after_changes_nothing(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    payer = await buyer(client, cast)
    # A card: the provider's answer to the create says succeeded.
    by_card = await escrow_of(client, cast, payer)
    answered = await fund(world, by_card, {"type": "card", "card_token": "pm_card_visa"}, "fund-card")
    assert (answered["status"], answered["collection"]["status"]) == ("funded", "succeeded")
    await world.deliver(1)
    await world.run_jobs()
    await assert_funded_once(world, by_card["id"], answered["collection"]["id"], payer)
    world.sandbox.receiver.clear()

    # Orange Money: the answer to the OTP says succeeded, before Paystack's webhook.
    by_otp = await escrow_of(client, cast, payer)
    started = await fund(world, by_otp, {**MTN, "operator": "orange"}, "fund-otp")
    assert started["collection"]["next_action"]["type"] == "submit_otp"
    done = await client.post(
        f"/v1/collections/{started['collection']['id']}/otp",
        json={"otp": OTP},
        headers={**world.platform, "Idempotency-Key": "otp-1"},
    )
    assert done.json()["status"] == "succeeded", done.text
    assert (await shown(world, by_otp["id"]))["status"] == "funded"
    await world.deliver(1)
    await world.run_jobs()
    await assert_funded_once(world, by_otp["id"], started["collection"]["id"], payer)


async def test_reconciliation_asking_first_funds_it_and_the_webhook_after_changes_nothing(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    payer = await buyer(client, cast)
    escrow = await escrow_of(client, cast, payer)
    started = await fund(world, escrow, MTN, "fund-reconciled")
    received = await world.sandbox.receiver.wait_for(1)  # the customer approved: Paystack has the success
    async with httpx.AsyncClient() as http:
        report = await payments_service.reconcile(
            world.sessions,
            providers=registry.build_router(world.settings, http),
            after_seconds=0,
            actor=payments_tasks.ACTOR,
            clock=clock.now,
        )
    assert report.changed == 1
    assert (await shown(world, escrow["id"]))["status"] == "funded"
    assert len(received) == 1
    await world.deliver(1)
    await world.run_jobs()
    await assert_funded_once(world, escrow["id"], started["collection"]["id"], payer)


async def test_a_failed_collection_funds_nothing(client: httpx.AsyncClient, cast: Cast, world: World) -> None:
    payer = await buyer(client, cast)
    escrow = await escrow_of(client, cast, payer)
    headers = {**world.platform, "Idempotency-Key": "fund-email-alone"}
    alone = await act(client, escrow, "fund", headers, {"email": "ama@example.ci"})
    assert (alone.status_code, alone.json()["code"]) == (422, "validation_failed"), alone.text
    answered = await fund(world, escrow, DECLINED, "fund-declined")
    assert answered["collection"]["status"] == "failed"
    assert (answered["status"], answered["funded_minor"], answered["held_minor"]) == ("awaiting_funding", 0, 0)
    assert await deposits(world, escrow["id"]) == 0
    assert await world.wallet(payer) == (0, 0)
    assert await events_of(world.sessions, escrow["id"]) == []
    account = await scalar(world.sessions, "SELECT account_id FROM escrows WHERE id = :id", id=escrow["id"])
    moved = await count(
        world.sessions, "ledger_transfers", "debit_account_id = :a OR credit_account_id = :a", a=account
    )
    assert moved == 0
    await assert_ledger_clean(world.sessions)


async def test_a_collection_the_escrow_can_no_longer_take_stays_in_the_wallet(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    payer = await buyer(client, cast)
    escrow = await escrow_of(client, cast, payer)
    started = await fund(world, escrow, MTN, "fund-then-cancel")
    cancelled = await act(client, escrow, "cancel", {**cast.platform, "Idempotency-Key": "cancel-1"})
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    await world.deliver(1)
    await world.run_jobs()
    assert (await world.shown("collections", started["collection"]["id"]))["status"] == "succeeded"
    assert await world.wallet(payer) == (AMOUNT, 0)
    assert await deposits(world, escrow["id"]) == 0
    assert await events_of(world.sessions, escrow["id"]) == ["escrow.cancelled", "escrow.collection_not_deposited"]
    await assert_ledger_clean(world.sessions)
