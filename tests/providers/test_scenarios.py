"""Every adapter against every scenario the sandbox plays that they share:
outage, refused connection, no answer, latency, and the webhooks sent twice,
late, out of order, never, or with another amount."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from sika.core import clock
from sika.providers import errors, registry, signatures
from sika.providers.base import (
    CollectionRequest,
    CollectionStatus,
    PaymentProvider,
    ProviderName,
    StatusLookup,
)
from tests.providers import builders
from tests.support.sandbox import LiveSandbox, free_port

PROVIDERS = [ProviderName.paystack, ProviderName.fedapay, ProviderName.stripe]
FINAL_EVENT = {
    ProviderName.paystack: "charge.success",
    ProviderName.fedapay: "transaction.approved",
    ProviderName.stripe: "payment_intent.succeeded",
}
EARLIER_EVENT = {
    ProviderName.fedapay: "transaction.created",
    ProviderName.stripe: "payment_intent.created",
}
WIRE_AMOUNT = {ProviderName.paystack: 500_000, ProviderName.fedapay: 5_000, ProviderName.stripe: 5_000}
"""5 000 XOF on each provider's wire."""
ONE_FRANC_ON_THE_WIRE = {ProviderName.paystack: 100, ProviderName.fedapay: 1, ProviderName.stripe: 1}


async def request_for(provider: ProviderName, sandbox: LiveSandbox, last_four: str) -> CollectionRequest:
    if provider is ProviderName.stripe:
        return builders.card(await builders.stripe_card(sandbox, builders.stripe_number(last_four)))
    return builders.mobile_money(last_four=last_four)


def event_name(provider: ProviderName, payload: dict[str, Any]) -> str:
    key = {ProviderName.paystack: "event", ProviderName.fedapay: "name", ProviderName.stripe: "type"}
    return str(payload[key[provider]])


def stated_amount(provider: ProviderName, payload: dict[str, Any]) -> int:
    if provider is ProviderName.paystack:
        return int(payload["data"]["amount"])
    if provider is ProviderName.fedapay:
        return int(payload["entity"]["amount"])
    return int(payload["data"]["object"]["amount"])


async def recorded(sandbox: LiveSandbox, provider: ProviderName) -> list[dict[str, Any]]:
    async with sandbox.admin() as admin:
        payments: list[dict[str, Any]] = (await admin.get("/payments", params={"provider": provider.value})).json()
    return payments


async def webhooks(sandbox: LiveSandbox, provider: ProviderName) -> list[dict[str, Any]]:
    async with sandbox.admin() as admin:
        listed: list[dict[str, Any]] = (await admin.get("/webhooks", params={"provider": provider.value})).json()
    return listed


@pytest.mark.parametrize("provider", PROVIDERS)
class TestEveryAdapter:
    async def test_an_outage_number_is_unavailable_and_records_nothing(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0053")
        with pytest.raises(errors.ProviderUnavailable, match="503"):
            await providers[provider].collect(request)
        assert await recorded(sandbox, provider) == []

    async def test_a_provider_forced_down_is_unavailable_for_every_call(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0000")
        async with sandbox.admin() as admin:
            forced = await admin.put(f"/scenarios/{provider.value}", json={"scenario": "outage"})
        assert forced.json() == {"forced": {provider.value: "outage"}}
        with pytest.raises(errors.ProviderUnavailable):
            await providers[provider].collect(request)
        with pytest.raises(errors.ProviderUnavailable):
            await providers[provider].collection_status(
                StatusLookup(reference=request.reference, provider_reference="anything")
            )
        assert await recorded(sandbox, provider) == []

    async def test_a_refused_connection_is_unavailable(
        self, provider: ProviderName, sandbox: LiveSandbox, http_client: httpx.AsyncClient
    ) -> None:
        request = await request_for(provider, sandbox, "0000")
        closed = f"http://127.0.0.1:{free_port()}"
        settings = sandbox.settings.model_copy(
            update={
                "PAYSTACK_BASE_URL": closed,
                "FEDAPAY_BASE_URL": closed,
                "STRIPE_BASE_URL": closed,
            }
        )
        adapter = registry.build_providers(settings, http_client)[provider]
        with pytest.raises(errors.ProviderUnavailable, match="unreachable"):
            await adapter.collect(request)

    async def test_no_answer_in_time_is_an_unknown_outcome_that_a_lookup_settles(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0052")
        started = time.monotonic()
        with pytest.raises(errors.OutcomeUnknown) as unknown:
            await providers[provider].collect(request)
        waited = time.monotonic() - started
        settings = sandbox.settings
        assert settings.PROVIDER_TIMEOUT_SECONDS <= waited < settings.SANDBOX_NO_ANSWER_SECONDS, (
            "gave up at PROVIDER_TIMEOUT_SECONDS, before the sandbox answered"
        )
        assert unknown.value.provider == provider.value
        [payment] = await recorded(sandbox, provider)
        assert payment["amount"] == WIRE_AMOUNT[provider]
        # The charge went through behind the silence; reconciliation learns it by our reference.
        if provider is ProviderName.fedapay:
            # FedaPay's flow stopped before its token was used: the customer was never asked.
            status = await providers[provider].collection_status(StatusLookup(request.reference))
            assert status.status is CollectionStatus.pending
            assert status.amount_minor == builders.XOF_AMOUNT
            return
        await sandbox.receiver.wait_for(1)
        status = await providers[provider].collection_status(StatusLookup(request.reference))
        assert status.status is CollectionStatus.succeeded
        assert status.amount_minor == builders.XOF_AMOUNT

    async def test_latency_below_the_timeout_only_slows_the_answer(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0054")
        started = time.monotonic()
        result = await providers[provider].collect(request)
        assert time.monotonic() - started >= 0.4
        assert result.amount_minor == builders.XOF_AMOUNT
        [webhook] = await sandbox.receiver.wait_for(1)
        assert event_name(provider, json.loads(webhook.body)) == FINAL_EVENT[provider]

    async def test_a_duplicated_webhook_arrives_twice_byte_for_byte(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        await providers[provider].collect(await request_for(provider, sandbox, "0061"))
        await _approve_if_needed(provider, sandbox)
        first, second = await sandbox.receiver.wait_for(2)
        assert first.body == second.body
        assert event_name(provider, json.loads(first.body)) == FINAL_EVENT[provider]
        for webhook in (first, second):
            signatures.verify(
                provider, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
            )
        await asyncio.sleep(0.3)
        assert len(sandbox.receiver.received) == 2

    async def test_a_late_webhook_comes_after_the_status_already_says_succeeded(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0062")
        result = await providers[provider].collect(request)
        await _approve_if_needed(provider, sandbox)
        await asyncio.sleep(0.3)
        status = await providers[provider].collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded
        assert sandbox.receiver.received == []
        [webhook] = await sandbox.receiver.wait_for(1, timeout_seconds=5)
        assert event_name(provider, json.loads(webhook.body)) == FINAL_EVENT[provider]

    async def test_out_of_order_webhooks_put_the_final_event_first(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        await providers[provider].collect(await request_for(provider, sandbox, "0063"))
        if provider is ProviderName.paystack:
            # Paystack has one charge event: it overtakes the API's own answer.
            [webhook] = sandbox.receiver.received
            assert event_name(provider, json.loads(webhook.body)) == FINAL_EVENT[provider]
            return
        await _approve_if_needed(provider, sandbox)
        first, second = await sandbox.receiver.wait_for(2)
        assert event_name(provider, json.loads(first.body)) == FINAL_EVENT[provider]
        assert event_name(provider, json.loads(second.body)) == EARLIER_EVENT[provider]

    async def test_a_webhook_never_sent_can_be_released_from_the_admin_endpoint(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0064")
        result = await providers[provider].collect(request)
        await _approve_if_needed(provider, sandbox)
        await asyncio.sleep(0.4)
        assert sandbox.receiver.received == []
        status = await providers[provider].collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded
        [withheld] = await webhooks(sandbox, provider)
        assert withheld["status"] == "withheld"
        async with sandbox.admin() as admin:
            released = await admin.post(f"/webhooks/{withheld['id']}/release")
        assert released.status_code == 200
        [webhook] = await sandbox.receiver.wait_for(1)
        assert event_name(provider, json.loads(webhook.body)) == FINAL_EVENT[provider]

    async def test_a_webhook_may_state_another_amount_than_the_charge_signed_all_the_same(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0065")
        result = await providers[provider].collect(request)
        await _approve_if_needed(provider, sandbox)
        [webhook] = await sandbox.receiver.wait_for(1)
        signatures.verify(
            provider, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
        )
        payload = json.loads(webhook.body)
        assert stated_amount(provider, payload) == WIRE_AMOUNT[provider] - ONE_FRANC_ON_THE_WIRE[provider]
        status = await providers[provider].collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.amount_minor == builders.XOF_AMOUNT


async def _approve_if_needed(provider: ProviderName, sandbox: LiveSandbox) -> None:
    """Stripe cards settle at once; mobile money waits for the phone, approved by itself."""
    if provider is not ProviderName.stripe:
        await asyncio.sleep(sandbox.settings.SANDBOX_APPROVAL_DELAY_SECONDS)
