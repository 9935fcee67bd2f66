"""Collections through the API against the sandbox: every operator flow, a
card, failover, declines, and refusals that leave nothing behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.factories import PartyWallet, party_headers
from tests.support.payments import (
    OTP,
    World,
    alerts_for,
    assert_ledger_clean,
    collection_body,
    count,
    mobile_money,
    payer,
    payout_body,
)
from tests.support.sandbox import eventually

AMOUNT = 5000
IN_FLIGHT_SECONDS = 2.0


def mtn(who: PartyWallet, phone: str | None = None) -> dict[str, Any]:
    method = mobile_money("mtn", phone) if phone else mobile_money("mtn")
    return collection_body(who, amount_minor=AMOUNT, method=method)


async def event_types(world: World, collection_id: str) -> list[str]:
    response = await world.client.get(
        "/v1/events", params={"entity_id": collection_id, "order": "oldest"}, headers=world.platform
    )
    assert response.status_code == 200, response.text
    return [event["type"] for event in response.json()["data"]]


async def credited_by_webhook(world: World, who: PartyWallet, collection_id: str) -> None:
    """The sandbox's one webhook, delivered and processed, credits the wallet."""
    await world.deliver(1)
    await world.run_jobs()
    assert (await world.shown("collections", collection_id))["status"] == "succeeded"
    assert await world.wallet(who) == (AMOUNT, 0)
    await assert_ledger_clean(world.sessions)


class TestOperatorFlows:
    async def test_orange_money_asks_for_an_otp_and_credits_the_wallet_once_it_is_submitted(
        self, world: World, kofi: PartyWallet
    ) -> None:
        started = await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange")))
        assert started.status_code == 201, started.text
        collection = started.json()
        assert collection["status"] == "action_required"
        assert collection["provider"] == "paystack"
        assert collection["next_action"] == {
            "type": "submit_otp",
            "display_text": "Dial #144*82# to get your authorisation code, then enter it here",
            "redirect_url": None,
        }
        assert await world.wallet(kofi) == (0, 0)

        done = await world.client.post(
            f"/v1/collections/{collection['id']}/otp", json={"otp": OTP}, headers=world.platform
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "succeeded"
        assert done.json()["credit_transfer_id"] == f"{collection['id']}.credit"
        assert await world.wallet(kofi) == (AMOUNT, 0)

        # Paystack's charge.success follows; it finds the collection already succeeded.
        await credited_by_webhook(world, kofi, collection["id"])
        assert await count(world.sessions, "webhooks_inbound_events", "outcome = 'unchanged'") == 1
        assert await event_types(world, collection["id"]) == [
            "collection.initiated",
            "collection.action_required",
            "collection.processing",
            "collection.succeeded",
        ]

    async def test_mtn_asks_for_approval_on_the_phone_and_the_webhook_credits_the_wallet(
        self, world: World, kofi: PartyWallet
    ) -> None:
        collection = (await world.collect(mtn(kofi))).json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "approve_on_phone"
        assert collection["next_action"]["display_text"] == "Please complete authorization process on your mobile phone"

        await world.deliver(1)
        assert await world.wallet(kofi) == (0, 0), "stored, not yet processed"
        await world.run_jobs()
        shown = await world.shown("collections", collection["id"])
        assert (shown["status"], shown["next_action"]) == ("succeeded", None)
        assert await world.wallet(kofi) == (AMOUNT, 0)
        await assert_ledger_clean(world.sessions)

    async def test_wave_sends_the_customer_to_a_redirect_url(self, world: World, kofi: PartyWallet) -> None:
        collection = (
            await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("wave")))
        ).json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "redirect"
        url = collection["next_action"]["redirect_url"]
        assert url == f"{world.sandbox.url}/_sandbox/checkout/paystack/{collection['id']}"

        async with httpx.AsyncClient() as browser:
            assert (await browser.get(url)).status_code == 200
        await credited_by_webhook(world, kofi, collection["id"])

    async def test_a_card_payment_succeeds_at_once_and_its_webhook_changes_nothing(
        self, world: World, kofi: PartyWallet
    ) -> None:
        card = {"type": "card", "card_token": "pm_card_visa"}
        collection = (await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=card))).json()
        assert collection["status"] == "succeeded", collection
        assert collection["provider"] == "stripe"
        assert collection["provider_reference"].startswith("pi_")
        assert await world.wallet(kofi) == (AMOUNT, 0)

        await credited_by_webhook(world, kofi, collection["id"])
        unchanged = "status = 'processed' AND outcome = 'unchanged'"
        assert await count(world.sessions, "webhooks_inbound_events", unchanged) == 1

    async def test_a_card_with_3d_secure_goes_through_a_redirect(self, world: World, kofi: PartyWallet) -> None:
        card = {"type": "card", "card_token": "pm_card_authenticationRequired"}
        collection = (await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=card))).json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "redirect"
        async with httpx.AsyncClient() as browser:
            assert (await browser.get(collection["next_action"]["redirect_url"])).status_code == 200
        await credited_by_webhook(world, kofi, collection["id"])


class TestFailoverAndDeclines:
    async def test_a_paystack_outage_sends_the_collection_through_fedapay(
        self, world: World, kofi: PartyWallet
    ) -> None:
        async with world.sandbox.admin() as admin:
            assert (await admin.put("/scenarios/paystack", json={"scenario": "outage"})).status_code == 200
        collection = (await world.collect(mtn(kofi))).json()
        assert collection["provider"] == "fedapay"
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "approve_on_phone"

        await credited_by_webhook(world, kofi, collection["id"])
        shown = await world.shown("collections", collection["id"])
        assert shown["provider_reference"] == collection["provider_reference"]

    async def test_a_decline_fails_the_collection_and_credits_nothing(self, world: World, kofi: PartyWallet) -> None:
        response = await world.collect(mtn(kofi, "+2250700000051"))
        assert response.status_code == 201
        collection = response.json()
        assert collection["status"] == "failed"
        assert collection["failure"]["code"] == "insufficient_funds"
        assert collection["provider"] == "paystack"
        assert collection["credit_transfer_id"] is None
        assert await world.wallet(kofi) == (0, 0)
        assert await count(world.sessions, "ledger_transfers", "code = 'collection.succeeded'") == 0

    async def test_a_wrong_otp_fails_the_collection(self, world: World, kofi: PartyWallet) -> None:
        collection = (
            await world.collect(collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange")))
        ).json()
        otp = f"/v1/collections/{collection['id']}/otp"
        wrong = await world.client.post(otp, json={"otp": "000000"}, headers=world.platform)
        assert wrong.status_code == 200
        assert wrong.json()["status"] == "failed"
        assert wrong.json()["failure"]["code"] == "invalid_otp"
        assert await world.wallet(kofi) == (0, 0)

        before = await world.footprint()
        again = await world.client.post(otp, json={"otp": OTP}, headers=world.platform)
        assert again.status_code == 409
        assert again.json()["code"] == "collection_not_awaiting_otp"
        assert await world.footprint() == before


async def open_transactions(world: World) -> list[str]:
    """What other clients' connections to the test database hold a transaction open right now
    (PostgreSQL's own workers, autovacuum's, are not the app's)."""
    async with world.sessions() as session:
        rows = await session.scalars(
            sa.text(
                "SELECT coalesce(query, '') FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND backend_type = 'client backend'"
            )
        )
        return list(rows)


class TestPhases:
    """the money rules in docs/architecture.md: the first phase commits before the provider is called,
    and no transaction stays open while it answers."""

    async def while_the_provider_answers(
        self, world: World, request: Coroutine[Any, Any, httpx.Response], table: str
    ) -> dict[str, Any]:
        async with world.sandbox.admin() as admin:
            await admin.patch("/config", json={"latency_seconds": IN_FLIGHT_SECONDS})
        started = asyncio.create_task(request)
        await eventually(lambda: count(world.sessions, table), what="the first phase to commit")
        assert not started.done(), "the first phase committed before the provider was called"
        assert await open_transactions(world) == []
        shown: dict[str, Any] = (await started).json()
        return shown

    async def test_a_collection(self, world: World, kofi: PartyWallet) -> None:
        request = world.collect(mtn(kofi, "+2250700000054"))
        shown = await self.while_the_provider_answers(world, request, "payments_collections")
        assert shown["status"] == "action_required"

    async def test_a_payout(self, world: World, kofi: PartyWallet) -> None:
        await world.top_up(kofi, AMOUNT)
        request = world.pay_out(payout_body(kofi, amount_minor=AMOUNT, phone="+2250700000054"))
        shown = await self.while_the_provider_answers(world, request, "payments_payouts")
        assert shown["status"] == "processing"


class TestIdempotency:
    async def test_the_same_key_replays_the_answer_and_charges_once(self, world: World, kofi: PartyWallet) -> None:
        first = await world.collect(mtn(kofi), key="order-77")
        before = await world.footprint()
        second = await world.collect(mtn(kofi), key="order-77")
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["Idempotent-Replayed"] == "true"
        assert await world.footprint() == before
        assert before["payments_collections"] == before["sandbox payments"] == 1

        listed = await world.client.get(
            "/v1/collections", params={"idempotency_key": "order-77"}, headers=world.platform
        )
        assert [c["id"] for c in listed.json()["data"]] == [first.json()["id"]]

    async def test_a_duplicate_while_the_first_waits_for_the_provider_gets_409_and_never_reaches_it(
        self, world: World, kofi: PartyWallet
    ) -> None:
        # The sandbox takes latency_seconds to answer this number: long enough for the
        # duplicate to arrive in between however slowly this machine runs, below the timeout.
        async with world.sandbox.admin() as admin:
            await admin.patch("/config", json={"latency_seconds": IN_FLIGHT_SECONDS})
        body = mtn(kofi, "+2250700000054")
        first = asyncio.create_task(world.collect(body, key="slow-1"))
        await eventually(lambda: count(world.sessions, "payments_collections"), what="the first phase to commit")
        second = await world.collect(body, key="slow-1")
        assert second.status_code == 409
        assert second.json()["code"] == "idempotency_key_in_flight"
        answered = await first
        assert answered.status_code == 201
        assert answered.json()["status"] == "action_required"

        before = await world.footprint()
        third = await world.collect(body, key="slow-1")
        assert third.json() == answered.json()
        assert third.headers["Idempotent-Replayed"] == "true"
        assert await world.footprint() == before
        assert before["payments_collections"] == before["sandbox payments"] == 1

    async def test_a_key_whose_stored_answer_expired_still_makes_no_second_collection(
        self, world: World, kofi: PartyWallet
    ) -> None:
        assert (await world.collect(mtn(kofi), key="order-79")).status_code == 201
        async with world.sessions() as session, session.begin():
            await session.execute(sa.text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"))
        before = await world.footprint()
        again = await world.collect(mtn(kofi), key="order-79")
        assert again.status_code == 409
        assert again.json()["code"] == "idempotency_key_already_used"
        assert await world.footprint() == before

    async def test_the_same_key_with_another_body_is_refused(self, world: World, kofi: PartyWallet) -> None:
        assert (await world.collect(mtn(kofi), key="order-78")).status_code == 201
        before = await world.footprint()
        other = await world.collect({**mtn(kofi), "amount_minor": AMOUNT + 1}, key="order-78")
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"
        assert await world.footprint() == before


async def _another_partys_wallet(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], dict[str, str]]:
    other = await payer(world.client, world.platform)
    return {**mtn(kofi), "wallet_id": other.wallet_id}, world.platform


async def _no_route(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], dict[str, str]]:
    euro = await payer(world.client, world.platform, currency="EUR")
    return collection_body(euro, amount_minor=AMOUNT, currency="EUR", method=mobile_money("mtn")), world.platform


async def _another_currency(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], dict[str, str]]:
    return collection_body(kofi, amount_minor=AMOUNT, currency="GHS", method=mobile_money("mtn")), world.platform


async def _a_float(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], dict[str, str]]:
    return {**mtn(kofi), "amount_minor": 5000.5}, world.platform


async def _whole_but_a_float(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], dict[str, str]]:
    return {**mtn(kofi), "amount_minor": 5000.0}, world.platform


async def _another_partys_token(world: World, kofi: PartyWallet) -> tuple[dict[str, Any], dict[str, str]]:
    other = await payer(world.client, world.platform)
    return mtn(kofi), await party_headers(world.client, world.platform, other.party_id)


Refusal = Callable[[World, PartyWallet], Awaitable[tuple[dict[str, Any], dict[str, str]]]]


class TestRefusals:
    @pytest.mark.parametrize(
        ("make", "status", "code"),
        [
            (_another_partys_wallet, 422, "wallet_not_of_party"),
            (_no_route, 422, "no_provider_route"),
            (_another_currency, 422, "wallet_currency_mismatch"),
            (_a_float, 422, "validation_failed"),
            (_whole_but_a_float, 422, "validation_failed"),
            (_another_partys_token, 403, None),
        ],
        ids=["wallet_of_another_party", "no_route", "wallet_in_another_currency", "float", "whole_float", "token"],
    )
    async def test_is_answered_and_leaves_nothing_behind(
        self, world: World, kofi: PartyWallet, make: Refusal, status: int, code: str | None
    ) -> None:
        body, headers = await make(world, kofi)
        before = await world.footprint()
        response = await world.collect(body, headers=headers)
        assert response.status_code == status, response.text
        if code is not None:
            assert response.json()["code"] == code
        assert await world.footprint() == before
        assert await world.wallet(kofi) == (0, 0)

    async def test_a_party_token_sees_none_of_another_partys_collections(self, world: World, kofi: PartyWallet) -> None:
        assert (await world.collect(mtn(kofi))).status_code == 201
        other = await payer(world.client, world.platform)
        headers = await party_headers(world.client, world.platform, other.party_id)
        assert (await world.client.get("/v1/collections", headers=headers)).json()["data"] == []

    async def test_a_party_token_collects_into_its_own_wallet(self, world: World, kofi: PartyWallet) -> None:
        headers = await party_headers(world.client, world.platform, kofi.party_id)
        response = await world.collect(mtn(kofi), headers=headers)
        assert response.status_code == 201
        assert response.json()["status"] == "action_required"
        shown = await world.client.get(f"/v1/collections/{response.json()['id']}", headers=headers)
        assert shown.status_code == 200


class TestAmountMismatch:
    async def test_a_webhook_stating_another_amount_credits_nothing_and_raises_an_alert(
        self, world: World, kofi: PartyWallet
    ) -> None:
        collection = (await world.collect(mtn(kofi, "+2250700000065"))).json()
        await world.deliver(1)
        await world.run_jobs()

        shown = await world.shown("collections", collection["id"])
        assert shown["status"] == "amount_mismatch"
        assert (shown["reported_amount_minor"], shown["reported_currency"]) == (AMOUNT - 1, "XOF")
        assert shown["credit_transfer_id"] is None
        assert await world.wallet(kofi) == (0, 0)
        assert await alerts_for(world.sessions, collection["id"]) == [("collection.amount_mismatch", "critical")]
        await assert_ledger_clean(world.sessions)
