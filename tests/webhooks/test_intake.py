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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Environment, InsecureSettings, Settings
from sika.sandbox import signing
from tests.support.payments import Payer, alerts_for, count, initiated_collection, run_jobs, wallet_state
from tests.support.sandbox import LiveSandbox

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


class TestSignatures:
    async def test_a_signed_webhook_is_stored_with_its_job_and_answered_200(
        self, client: httpx.AsyncClient, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        body, headers = signed("paystack", charge_success("col_abc"), settings)
        response = await post(client, "paystack", body, headers)
        assert response.status_code == 200
        assert response.json() == {"received": True, "duplicate": False}
        assert await count(sessions, "webhooks_inbound_events", "status = 'received' AND body = :b", b=body) == 1
        assert await count(sessions, JOBS, PROCESS_JOBS) == 1

    async def test_a_wrong_signature_is_refused_and_nothing_is_stored(
        self, client: httpx.AsyncClient, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        body, headers = signed("paystack", charge_success("col_abc"), settings)
        tampered = body.replace(b"250000", b"990000")
        for _ in range(3):
            response = await post(client, "paystack", tampered, headers)
            assert response.status_code == 401
            assert (response.json()["code"], response.json()["reason"]) == (
                "webhook_signature_invalid",
                "signature_mismatch",
            )
        assert await count(sessions, "webhooks_inbound_events") == 0
        assert await count(sessions, JOBS, PROCESS_JOBS) == 0
        # One alert for the operator, not one per forged request.
        assert await alerts_for(sessions, "paystack") == [("webhook.signature_invalid", "critical")]

    async def test_a_missing_signature_is_refused(
        self, client: httpx.AsyncClient, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        body, _ = signed("stripe", {"id": "evt_1", "type": "payment_intent.succeeded"}, settings)
        response = await post(client, "stripe", body, {"Content-Type": "application/json"})
        assert response.status_code == 401
        assert response.json()["reason"] == "missing_header"
        assert await count(sessions, "webhooks_inbound_events") == 0
        assert await alerts_for(sessions, "stripe") == []

    async def test_a_stale_timestamp_is_refused(
        self, client: httpx.AsyncClient, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        old = time.time() - settings.WEBHOOK_TOLERANCE_SECONDS - 60
        body, headers = signed("fedapay", {"id": 1, "name": "transaction.approved"}, settings, at=old)
        response = await post(client, "fedapay", body, headers)
        assert response.status_code == 401
        assert response.json()["reason"] == "timestamp_outside_tolerance"
        assert await count(sessions, "webhooks_inbound_events") == 0
        assert await alerts_for(sessions, "fedapay") == [("webhook.signature_invalid", "critical")]

    async def test_an_unknown_provider_is_not_found(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/webhooks/moneygram", content=b"{}")
        assert response.status_code == 404
        assert response.json()["code"] == "webhook_provider_unknown"


class TestMissingSecret:
    @pytest.fixture
    def settings(self, sandbox: LiveSandbox) -> Settings:
        return sandbox.settings.model_copy(update={"STRIPE_WEBHOOK_SECRET": None})

    async def test_outside_production_a_webhook_without_a_secret_to_check_it_is_refused(
        self, client: httpx.AsyncClient, sandbox: LiveSandbox, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        body, headers = signed("stripe", {"id": "evt_1", "type": "payment_intent.succeeded"}, sandbox.settings)
        response = await post(client, "stripe", body, headers)
        assert response.status_code == 401
        assert response.json()["reason"] == "secret_not_configured"
        assert await count(sessions, "webhooks_inbound_events") == 0
        assert await alerts_for(sessions, "stripe") == [("webhook.signature_invalid", "critical")]

    def test_production_refuses_to_start_without_it(self, settings: Settings) -> None:
        production = settings.model_copy(update={"ENV": Environment.production})
        with pytest.raises(InsecureSettings, match="SIKA_STRIPE_WEBHOOK_SECRET is missing"):
            production.check_safe_to_start()


class TestDuplicates:
    async def test_the_same_event_ten_times_at_once_is_stored_once_and_credits_once(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        sandbox: LiveSandbox,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
    ) -> None:
        body = {
            "party_id": kofi.party_id,
            "wallet_id": kofi.wallet_id,
            "amount_minor": 2500,
            "currency": "XOF",
            "method": {"type": "mobile_money", "operator": "mtn", "phone": "+2250700000101"},
        }
        collection = (await client.post("/v1/collections", json=body, headers=platform_headers)).json()
        (received,) = await sandbox.receiver.wait_for(1)
        headers = {k: v for k, v in received.headers.items() if k not in ("host", "content-length")}

        answers = await asyncio.gather(*(post(client, "paystack", received.body, headers) for _ in range(10)))
        assert [a.status_code for a in answers] == [200] * 10
        assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 9
        assert await count(sessions, "webhooks_inbound_events") == 1
        assert await count(sessions, JOBS, PROCESS_JOBS) == 1

        await run_jobs(database_url, settings)
        shown = (await client.get(f"/v1/collections/{collection['id']}", headers=platform_headers)).json()
        assert shown["status"] == "succeeded"
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (2500, 0)


class TestUnreadable:
    async def test_a_signed_body_that_is_not_an_event_is_kept_and_alerted(
        self, client: httpx.AsyncClient, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        body, headers = signed("paystack", {"event": "charge.success", "data": {"reference": "col_x"}}, settings)
        response = await post(client, "paystack", body, headers)
        assert response.status_code == 200
        assert await count(sessions, "webhooks_inbound_events", "status = 'rejected'") == 1
        assert await count(sessions, JOBS, PROCESS_JOBS) == 0
        async with sessions() as session:
            event_id = await session.scalar(sa.text("SELECT id FROM webhooks_inbound_events"))
        assert await alerts_for(sessions, str(event_id)) == [("webhook.unreadable", "critical")]

    async def test_a_fractional_amount_is_kept_unread_and_credits_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        kofi: Payer,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        database_url: str,
    ) -> None:
        # Truncated, 2500.4 francs would have matched the collection of 2 500 and credited it.
        collection_id = await initiated_collection(sessions, kofi, amount_minor=2_500)
        approved = {
            "id": 995,
            "name": "transaction.approved",
            "entity": {"id": 8, "amount": 2_500.4, "currency": {"iso": "XOF"}, "merchant_reference": collection_id},
        }
        body, headers = signed("fedapay", approved, settings)
        assert (await post(client, "fedapay", body, headers)).status_code == 200
        await run_jobs(database_url, settings)

        assert await count(sessions, "webhooks_inbound_events", "status = 'rejected'") == 1
        assert await count(sessions, JOBS, PROCESS_JOBS) == 0
        shown = (await client.get(f"/v1/collections/{collection_id}", headers=platform_headers)).json()
        assert (shown["status"], shown["credit_transfer_id"]) == ("initiated", None)
        assert await wallet_state(client, platform_headers, kofi.wallet_id) == (0, 0)
        assert await count(sessions, "ledger_transfers", "code = 'collection.succeeded'") == 0
