"""Webhook intake: a signature that holds, or a 401 and nothing stored; the
raw event stored once under (provider, event id), its job deferred with it;
duplicates answered 200 and stored nowhere."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sika.core.config import Environment, InsecureSettings, Settings
from sika.sandbox import signing
from tests.support.factories import PartyWallet
from tests.support.payments import World, alerts_for, count, initiated_collection, mobile_money

JOBS = "procrastinate_jobs"
PROCESS_JOBS = "task_name = 'webhooks.process_event'"


def charge_success(reference: str, *, amount_wire: int = 250_000, charge_id: int = 4_100_001) -> dict[str, Any]:
    """Paystack's ``charge.success`` as it sends it (amounts in hundredths, XOF too)."""
    return {
        "event": "charge.success",
        "data": {
            "id": charge_id,
            "status": "success",
            "reference": reference,
            "amount": amount_wire,
            "currency": "XOF",
            "channel": "mobile_money",
            "gateway_response": "Approved",
        },
    }


def signed(
    provider: str, payload: dict[str, Any], settings: Settings, *, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = signing.headers(provider, body=body, settings=settings, timestamp=int(at or time.time()))
    return body, {"Content-Type": "application/json", **headers}


async def post(client: httpx.AsyncClient, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(f"/v1/webhooks/{provider}", content=body, headers=headers)


async def refused(world: World, provider: str, body: bytes, headers: dict[str, str], reason: str) -> None:
    """Posted (three times, as a forger would), each answered 401 for ``reason`` with nothing stored or enqueued."""
    before = await world.footprint()
    for _ in range(3):
        response = await post(world.client, provider, body, headers)
        assert response.status_code == 401
        assert (response.json()["code"], response.json()["reason"]) == ("webhook_signature_invalid", reason)
    assert await world.footprint() == before


class TestSignatures:
    async def test_a_signed_webhook_is_stored_with_its_job_and_answered_200(self, world: World) -> None:
        body, headers = signed("paystack", charge_success("col_abc"), world.settings)
        response = await post(world.client, "paystack", body, headers)
        assert response.status_code == 200
        assert response.json() == {"received": True, "duplicate": False}
        assert await count(world.sessions, "webhooks_inbound_events", "status = 'received' AND body = :b", b=body) == 1
        assert await count(world.sessions, JOBS, PROCESS_JOBS) == 1

    async def test_a_wrong_signature_is_refused_and_nothing_is_stored(self, world: World) -> None:
        body, headers = signed("paystack", charge_success("col_abc"), world.settings)
        await refused(world, "paystack", body.replace(b"250000", b"990000"), headers, "signature_mismatch")
        # One alert for the operator, not one per forged request.
        assert await alerts_for(world.sessions, "paystack") == [("webhook.signature_invalid", "critical")]

    async def test_a_missing_signature_is_refused(self, world: World) -> None:
        body, _ = signed("stripe", {"id": "evt_1", "type": "payment_intent.succeeded"}, world.settings)
        await refused(world, "stripe", body, {"Content-Type": "application/json"}, "missing_header")
        assert await alerts_for(world.sessions, "stripe") == []

    async def test_a_stale_timestamp_is_refused(self, world: World) -> None:
        old = time.time() - world.settings.WEBHOOK_TOLERANCE_SECONDS - 60
        body, headers = signed("fedapay", {"id": 1, "name": "transaction.approved"}, world.settings, at=old)
        await refused(world, "fedapay", body, headers, "timestamp_outside_tolerance")
        assert await alerts_for(world.sessions, "fedapay") == [("webhook.signature_invalid", "critical")]

    async def test_an_unknown_provider_is_not_found(self, world: World) -> None:
        before = await world.footprint()
        response = await world.client.post("/v1/webhooks/moneygram", content=b"{}")
        assert response.status_code == 404
        assert response.json()["code"] == "webhook_provider_unknown"
        assert await world.footprint() == before


class TestMissingSecret:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": None})

    async def test_outside_production_a_webhook_without_a_secret_to_check_it_is_refused(self, world: World) -> None:
        payload = {"id": "evt_1", "type": "payment_intent.succeeded"}
        body, headers = signed("stripe", payload, world.sandbox.settings)
        await refused(world, "stripe", body, headers, "secret_not_configured")
        assert await alerts_for(world.sessions, "stripe") == [("webhook.signature_invalid", "critical")]

    def test_production_refuses_to_start_without_it(self, settings: Settings) -> None:
        production = settings.model_copy(update={"ENV": Environment.production})
        with pytest.raises(InsecureSettings, match="SIKA_STRIPE_WEBHOOK_SECRET is missing"):
            production.check_safe_to_start()


class TestDuplicates:
    async def test_the_same_event_ten_times_at_once_is_stored_once_and_credits_once(
        self, world: World, kofi: PartyWallet
    ) -> None:
        body = {
            "party_id": kofi.party_id,
            "wallet_id": kofi.wallet_id,
            "amount_minor": 2500,
            "currency": "XOF",
            "method": mobile_money("mtn"),
        }
        collection = (await world.collect(body)).json()
        (received,) = await world.sandbox.receiver.wait_for(1)
        headers = {k: v for k, v in received.headers.items() if k not in ("host", "content-length")}

        answers = await asyncio.gather(*(post(world.client, "paystack", received.body, headers) for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10
        assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 9
        assert await count(world.sessions, "webhooks_inbound_events") == 1
        assert await count(world.sessions, JOBS, PROCESS_JOBS) == 1

        await world.run_jobs()
        assert (await world.shown("collections", collection["id"]))["status"] == "succeeded"
        assert await world.wallet(kofi) == (2500, 0)


class TestUnreadable:
    async def test_a_signed_body_that_is_not_an_event_is_kept_and_alerted(self, world: World) -> None:
        body, headers = signed("paystack", {"event": "charge.success", "data": {"reference": "col_x"}}, world.settings)
        response = await post(world.client, "paystack", body, headers)
        assert response.status_code == 200
        assert await count(world.sessions, "webhooks_inbound_events", "status = 'rejected'") == 1
        assert await count(world.sessions, JOBS, PROCESS_JOBS) == 0
        async with world.sessions() as session:
            event_id = await session.scalar(sa.text("SELECT id FROM webhooks_inbound_events"))
        assert await alerts_for(world.sessions, str(event_id)) == [("webhook.unreadable", "critical")]

    async def test_a_fractional_amount_is_kept_unread_and_credits_nothing(
        self, world: World, kofi: PartyWallet
    ) -> None:
        # Truncated, 2500.4 francs would have matched the collection of 2 500 and credited it.
        collection_id = await initiated_collection(world.sessions, kofi, amount_minor=2_500)
        approved = {
            "id": 995,
            "name": "transaction.approved",
            "entity": {"id": 8, "amount": 2_500.4, "currency": {"iso": "XOF"}, "merchant_reference": collection_id},
        }
        body, headers = signed("fedapay", approved, world.settings)
        assert (await post(world.client, "fedapay", body, headers)).status_code == 200
        await world.run_jobs()

        assert await count(world.sessions, "webhooks_inbound_events", "status = 'rejected'") == 1
        assert await count(world.sessions, JOBS, PROCESS_JOBS) == 0
        shown = await world.shown("collections", collection_id)
        assert (shown["status"], shown["credit_transfer_id"]) == ("initiated", None)
        assert await world.wallet(kofi) == (0, 0)
        assert await count(world.sessions, "ledger_transfers", "code = 'collection.succeeded'") == 0


class TestTextPostgresqlCannotStore:
    """A signed event is authentic: it is never refused for its text, only kept
    where it cannot be misread (see docs/payments.md)."""

    @pytest.mark.parametrize("bad", ["\x00", "\ud800"])
    async def test_a_reference_that_cannot_be_stored_is_kept_raw_answered_200_and_alerted(
        self, world: World, bad: str
    ) -> None:
        body, headers = signed("paystack", charge_success(f"col_a{bad}b"), world.settings)
        for duplicate in (False, True):  # the provider's retry finds it stored
            response = await post(world.client, "paystack", body, headers)
            assert response.status_code == 200, response.text
            assert response.json() == {"received": True, "duplicate": duplicate}

        query = sa.text("SELECT id, body, status, reference, last_error FROM webhooks_inbound_events")
        async with world.sessions() as session:
            event = (await session.execute(query)).one()
        assert (event.body, event.status, event.reference) == (body, "rejected", None)
        assert event.last_error.startswith("The paystack webhook's reference: Holds")
        assert await alerts_for(world.sessions, event.id) == [("webhook.unreadable", "critical")]
        assert await count(world.sessions, JOBS, PROCESS_JOBS) == 0

    async def test_such_text_in_what_sika_does_not_read_is_stored_as_sent(self, world: World) -> None:
        payload = charge_success("col_abc")
        payload["data"]["customer"] = {"first_name": "Kofi\u0000", "last_name": "\ud83d"}
        body, headers = signed("paystack", payload, world.settings)
        response = await post(world.client, "paystack", body, headers)
        assert response.status_code == 200, response.text
        assert await count(world.sessions, "webhooks_inbound_events", "status = 'received' AND body = :b", b=body) == 1
        assert await count(world.sessions, JOBS, PROCESS_JOBS) == 1
