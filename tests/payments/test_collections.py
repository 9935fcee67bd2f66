"""Collections through the API against the sandbox: every operator flow, a
card, failover, declines, and refusals that leave nothing behind."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Settings
from tests.support.parties import party_headers
from tests.support.payments import (
    OTP,
    Payer,
    alerts_for,
    assert_ledger_clean,
    collection_body,
    count,
    deliver,
    mobile_money,
    payer,
    run_jobs,
    wallet_state,
)
from tests.support.sandbox import LiveSandbox, eventually

AMOUNT = 5000
IN_FLIGHT_SECONDS = 2.0


async def collect(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post("/v1/collections", json=body, headers={**headers, **extra})


async def deliver_all(client: httpx.AsyncClient, sandbox: LiveSandbox, expected: int) -> None:
    for received in await sandbox.receiver.wait_for(expected):
        response = await deliver(client, received)
        assert response.status_code == 200, response.text


async def event_types(client: httpx.AsyncClient, headers: dict[str, str], collection_id: str) -> list[str]:
    response = await client.get("/v1/events", params={"entity_id": collection_id}, headers=headers)
    assert response.status_code == 200, response.text
    return [event["type"] for event in response.json()["data"]]


class TestOperatorFlows:
    async def test_orange_money_asks_for_an_otp_and_credits_the_wallet_once_it_is_submitted(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        started = await collect(
            client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange"))
        )
        assert started.status_code == 201, started.text
        collection = started.json()
        assert collection["status"] == "action_required"
        assert collection["provider"] == "paystack"
        assert collection["next_action"] == {
            "type": "submit_otp",
            "display_text": "Dial #144*82# to get your authorisation code, then enter it here",
            "redirect_url": None,
        }
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)

        done = await client.post(f"/v1/collections/{collection['id']}/otp", json={"otp": OTP}, headers=platform_headers)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "succeeded"
        assert done.json()["credit_transfer_id"] == f"{collection['id']}.credit"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)

        # Paystack's charge.success follows; it finds the collection already succeeded.
        await deliver_all(client, sandbox, 1)
        await run_jobs(database_url, settings)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        assert await count(sessions, "webhooks_inbound_events", "outcome = 'unchanged'") == 1
        assert await event_types(client, platform_headers, collection["id"]) == [
            "collection.initiated",
            "collection.action_required",
            "collection.processing",
            "collection.succeeded",
        ]
        await assert_ledger_clean(sessions)

    async def test_mtn_asks_for_approval_on_the_phone_and_the_webhook_credits_the_wallet(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        started = await collect(
            client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
        )
        collection = started.json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "approve_on_phone"
        assert collection["next_action"]["display_text"] == "Please complete authorization process on your mobile phone"

        await deliver_all(client, sandbox, 1)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0), "stored, not yet processed"
        await run_jobs(database_url, settings)

        shown = (await client.get(f"/v1/collections/{collection['id']}", headers=platform_headers)).json()
        assert shown["status"] == "succeeded"
        assert shown["next_action"] is None
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        await assert_ledger_clean(sessions)

    async def test_wave_sends_the_customer_to_a_redirect_url(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        started = await collect(
            client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("wave"))
        )
        collection = started.json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "redirect"
        url = collection["next_action"]["redirect_url"]
        assert url == f"{sandbox.url}/_sandbox/checkout/paystack/{collection['id']}"

        async with httpx.AsyncClient() as browser:
            assert (await browser.get(url)).status_code == 200
        await deliver_all(client, sandbox, 1)
        await run_jobs(database_url, settings)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        await assert_ledger_clean(sessions)

    async def test_a_card_payment_succeeds_at_once_and_its_webhook_changes_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        card = {"type": "card", "card_token": "pm_card_visa"}
        started = await collect(client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=card))
        collection = started.json()
        assert collection["status"] == "succeeded", collection
        assert collection["provider"] == "stripe"
        assert collection["provider_reference"].startswith("pi_")
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)

        await deliver_all(client, sandbox, 1)
        await run_jobs(database_url, settings)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        assert await count(sessions, "webhooks_inbound_events", "status = 'processed' AND outcome = 'unchanged'") == 1
        await assert_ledger_clean(sessions)

    async def test_a_card_with_3d_secure_goes_through_a_redirect(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        card = {"type": "card", "card_token": "pm_card_authenticationRequired"}
        collection = (
            await collect(client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=card))
        ).json()
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "redirect"
        async with httpx.AsyncClient() as browser:
            assert (await browser.get(collection["next_action"]["redirect_url"])).status_code == 200
        await deliver_all(client, sandbox, 1)
        await run_jobs(database_url, settings)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        await assert_ledger_clean(sessions)


class TestFailoverAndDeclines:
    async def test_a_paystack_outage_sends_the_collection_through_fedapay(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        async with sandbox.admin() as admin:
            assert (await admin.put("/scenarios/paystack", json={"scenario": "outage"})).status_code == 200
        collection = (
            await collect(
                client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
            )
        ).json()
        assert collection["provider"] == "fedapay"
        assert collection["status"] == "action_required"
        assert collection["next_action"]["type"] == "approve_on_phone"

        await deliver_all(client, sandbox, 1)
        await run_jobs(database_url, settings)
        shown = (await client.get(f"/v1/collections/{collection['id']}", headers=platform_headers)).json()
        assert shown["status"] == "succeeded"
        assert shown["provider_reference"] == collection["provider_reference"]
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (AMOUNT, 0)
        await assert_ledger_clean(sessions)

    async def test_a_decline_fails_the_collection_and_credits_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000051"))
        response = await collect(client, platform_headers, body)
        assert response.status_code == 201
        collection = response.json()
        assert collection["status"] == "failed"
        assert collection["failure"]["code"] == "insufficient_funds"
        assert collection["provider"] == "paystack"
        assert collection["credit_transfer_id"] is None
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        assert await count(sessions, "ledger_transfers", "code = 'collection.succeeded'") == 0

    async def test_a_wrong_otp_fails_the_collection(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], kofi: Payer
    ) -> None:
        collection = (
            await collect(
                client, platform_headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("orange"))
            )
        ).json()
        wrong = await client.post(
            f"/v1/collections/{collection['id']}/otp", json={"otp": "000000"}, headers=platform_headers
        )
        assert wrong.status_code == 200
        assert wrong.json()["status"] == "failed"
        assert wrong.json()["failure"]["code"] == "invalid_otp"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)

        again = await client.post(
            f"/v1/collections/{collection['id']}/otp", json={"otp": OTP}, headers=platform_headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "collection_not_awaiting_otp"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)


class TestIdempotency:
    async def test_the_same_key_replays_the_answer_and_charges_once(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
        first = await collect(client, platform_headers, body, key="order-77")
        second = await collect(client, platform_headers, body, key="order-77")
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["Idempotent-Replayed"] == "true"
        assert await count(sessions, "payments_collections") == 1
        async with sandbox.admin() as admin:
            assert len((await admin.get("/payments")).json()) == 1

        listed = await client.get("/v1/collections", params={"idempotency_key": "order-77"}, headers=platform_headers)
        assert [c["id"] for c in listed.json()["data"]] == [first.json()["id"]]

    async def test_a_duplicate_while_the_first_waits_for_the_provider_gets_409_and_never_reaches_it(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        # The sandbox takes latency_seconds to answer this number: long enough for the
        # duplicate to arrive in between however slowly this machine runs, below the timeout.
        async with sandbox.admin() as admin:
            await admin.patch("/config", json={"latency_seconds": IN_FLIGHT_SECONDS})
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000054"))
        first = asyncio.create_task(collect(client, platform_headers, body, key="slow-1"))
        await eventually(lambda: count(sessions, "payments_collections"), what="the first phase to commit")
        second = await collect(client, platform_headers, body, key="slow-1")
        assert second.status_code == 409
        assert second.json()["code"] == "idempotency_key_in_flight"
        answered = await first
        assert answered.status_code == 201
        assert answered.json()["status"] == "action_required"

        third = await collect(client, platform_headers, body, key="slow-1")
        assert third.json() == answered.json()
        assert third.headers["Idempotent-Replayed"] == "true"
        assert await count(sessions, "payments_collections") == 1
        async with sandbox.admin() as admin:
            assert len((await admin.get("/payments")).json()) == 1

    async def test_a_key_whose_stored_answer_expired_still_makes_no_second_collection(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
        assert (await collect(client, platform_headers, body, key="order-79")).status_code == 201
        async with sessions() as session, session.begin():
            await session.execute(sa.text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"))
        again = await collect(client, platform_headers, body, key="order-79")
        assert again.status_code == 409
        assert again.json()["code"] == "idempotency_key_already_used"
        assert await count(sessions, "payments_collections") == 1
        async with sandbox.admin() as admin:
            assert len((await admin.get("/payments")).json()) == 1

    async def test_the_same_key_with_another_body_is_refused(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
        assert (await collect(client, platform_headers, body, key="order-78")).status_code == 201
        other = await collect(client, platform_headers, {**body, "amount_minor": AMOUNT + 1}, key="order-78")
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"
        assert await count(sessions, "payments_collections") == 1


class TestRefusals:
    async def test_a_wallet_of_another_party_is_refused_and_nothing_is_recorded(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        other = await payer(client, platform_headers)
        body = {**collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn")), "wallet_id": other.wallet_id}
        response = await collect(client, platform_headers, body)
        assert response.status_code == 422
        assert response.json()["code"] == "wallet_not_of_party"
        assert await count(sessions, "payments_collections") == 0
        assert await count(sessions, "events") == 0
        async with sandbox.admin() as admin:
            assert (await admin.get("/payments")).json() == []

    async def test_a_currency_no_provider_collects_is_refused(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        euro = await payer(client, platform_headers, currency="EUR")
        response = await collect(
            client,
            platform_headers,
            collection_body(euro, amount_minor=AMOUNT, currency="EUR", method=mobile_money("mtn")),
        )
        assert response.status_code == 422
        assert response.json()["code"] == "no_provider_route"
        assert await count(sessions, "payments_collections") == 0

    async def test_a_wallet_in_another_currency_is_refused(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        response = await collect(
            client,
            platform_headers,
            collection_body(kofi, amount_minor=AMOUNT, currency="GHS", method=mobile_money("mtn")),
        )
        assert response.status_code == 422
        assert response.json()["code"] == "wallet_currency_mismatch"
        assert await count(sessions, "payments_collections") == 0

    async def test_a_float_amount_is_refused(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        body = {**collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn")), "amount_minor": 5000.5}
        response = await collect(client, platform_headers, body)
        assert response.status_code == 422
        assert await count(sessions, "payments_collections") == 0

    async def test_a_party_token_cannot_collect_into_another_partys_wallet(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        other = await payer(client, platform_headers)
        headers = await party_headers(client, platform_headers, other.party_id)
        response = await collect(
            client, headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
        )
        assert response.status_code == 403
        assert await count(sessions, "payments_collections") == 0
        assert (await client.get("/v1/collections", headers=headers)).json()["data"] == []

    async def test_a_party_token_collects_into_its_own_wallet(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], kofi: Payer
    ) -> None:
        headers = await party_headers(client, platform_headers, kofi.party_id)
        response = await collect(
            client, headers, collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn"))
        )
        assert response.status_code == 201
        assert response.json()["status"] == "action_required"
        shown = await client.get(f"/v1/collections/{response.json()['id']}", headers=headers)
        assert shown.status_code == 200


class TestAmountMismatch:
    async def test_a_webhook_stating_another_amount_credits_nothing_and_raises_an_alert(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        body = collection_body(kofi, amount_minor=AMOUNT, method=mobile_money("mtn", "+2250700000065"))
        collection = (await collect(client, platform_headers, body)).json()
        await deliver_all(client, sandbox, 1)
        await run_jobs(database_url, settings)

        shown = (await client.get(f"/v1/collections/{collection['id']}", headers=platform_headers)).json()
        assert shown["status"] == "amount_mismatch"
        assert shown["reported_amount_minor"] == AMOUNT - 1
        assert shown["reported_currency"] == "XOF"
        assert shown["credit_transfer_id"] is None
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        assert await alerts_for(sessions, collection["id"]) == [("collection.amount_mismatch", "critical")]
        await assert_ledger_clean(sessions)
