"""Every adapter against every scenario the sandbox plays that they share:
outage, refused connection, no answer, latency, and the webhooks sent twice,
late, out of order, never, or with another amount."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
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
from tests.support.sandbox import SHORT_PROVIDER_TIMEOUT_SECONDS, LiveSandbox, eventually, free_port

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


async def delivered(sandbox: LiveSandbox, provider: ProviderName) -> list[dict[str, Any]]:
    """The provider's webhooks once each has its delivery recorded (just after the receiver answered)."""

    async def check() -> list[dict[str, Any]] | None:
        listed = await sandbox.listed("webhooks", provider=provider.value)
        return listed if listed and all(w["status"] == "delivered" for w in listed) else None

    found: list[dict[str, Any]] = await eventually(check, what=f"{provider.value}'s webhooks delivered")
    return found


async def settled(adapter: PaymentProvider, lookup: StatusLookup) -> None:
    """Wait until the provider says the charge succeeded (mobile money: once the sandbox approved it)."""

    async def check() -> bool:
        return (await adapter.collection_status(lookup)).status is CollectionStatus.succeeded

    await eventually(check, what="the charge to succeed")


@pytest.mark.parametrize("provider", PROVIDERS)
class TestEveryAdapter:
    async def test_an_outage_number_is_unavailable_and_records_nothing(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0053")
        with pytest.raises(errors.ProviderUnavailable, match="503"):
            await providers[provider].collect(request)
        assert await sandbox.listed("payments", provider=provider.value) == []

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
        assert await sandbox.listed("payments", provider=provider.value) == []

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
        self,
        provider: ProviderName,
        sandbox: LiveSandbox,
        providers: dict[ProviderName, PaymentProvider],
        impatient_providers: dict[ProviderName, PaymentProvider],
    ) -> None:
        request = await request_for(provider, sandbox, "0052")
        started = time.monotonic()
        with pytest.raises(errors.OutcomeUnknown) as unknown:
            await impatient_providers[provider].collect(request)
        assert time.monotonic() - started >= SHORT_PROVIDER_TIMEOUT_SECONDS, "gave up at the timeout, not before"
        assert unknown.value.provider == provider.value
        [payment] = await sandbox.listed("payments", provider=provider.value)
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
        await settled(providers[provider], StatusLookup(request.reference, result.provider_reference))
        [webhook] = await sandbox.receiver.wait_for(1)
        assert event_name(provider, json.loads(webhook.body)) == FINAL_EVENT[provider]
        # Measured by the sandbox's own clock, so however slowly this test runs.
        [payment] = await sandbox.listed("payments", provider=provider.value)
        [delivery] = await delivered(sandbox, provider)
        late_by = datetime.fromisoformat(delivery["attempts"][0]["at"]) - datetime.fromisoformat(payment["paid_at"])
        assert late_by.total_seconds() >= sandbox.settings.SANDBOX_WEBHOOK_LATE_SECONDS

    async def test_out_of_order_webhooks_put_the_final_event_first(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        await providers[provider].collect(await request_for(provider, sandbox, "0063"))
        if provider is ProviderName.paystack:
            # Paystack has one charge event: it overtakes the API's own answer.
            [webhook] = sandbox.receiver.received
            assert event_name(provider, json.loads(webhook.body)) == FINAL_EVENT[provider]
            return
        first, second = await sandbox.receiver.wait_for(2)
        assert event_name(provider, json.loads(first.body)) == FINAL_EVENT[provider]
        assert event_name(provider, json.loads(second.body)) == EARLIER_EVENT[provider]

    async def test_a_webhook_never_sent_can_be_released_from_the_admin_endpoint(
        self, provider: ProviderName, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        request = await request_for(provider, sandbox, "0064")
        result = await providers[provider].collect(request)
        await settled(providers[provider], StatusLookup(request.reference, result.provider_reference))
        assert sandbox.receiver.received == []
        [withheld] = await sandbox.listed("webhooks", provider=provider.value)
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
        [webhook] = await sandbox.receiver.wait_for(1)
        signatures.verify(
            provider, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
        )
        payload = json.loads(webhook.body)
        assert stated_amount(provider, payload) == WIRE_AMOUNT[provider] - ONE_FRANC_ON_THE_WIRE[provider]
        status = await providers[provider].collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.amount_minor == builders.XOF_AMOUNT
