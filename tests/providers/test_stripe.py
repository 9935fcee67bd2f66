from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sika.core import clock
from sika.providers import errors, signatures
from sika.providers.base import (
    CollectionResult,
    CollectionStatus,
    NextAction,
    PaymentProvider,
    ProviderName,
    StatusLookup,
)
from sika.providers.stripe import StripeProvider
from tests.providers import builders
from tests.support.sandbox import LiveSandbox


class TestStripeCollect:
    @pytest.mark.parametrize("token", ["pm_card_visa", "card:4242424242424242"])
    async def test_a_good_card_succeeds_at_once_and_is_announced(
        self, sandbox: LiveSandbox, stripe: PaymentProvider, token: str
    ) -> None:
        if token.startswith("card:"):
            token = await builders.stripe_card(sandbox, token.removeprefix("card:"))
        request = builders.card(token)
        result = await stripe.collect(request)
        assert result.provider is ProviderName.stripe
        assert result.status is CollectionStatus.succeeded
        assert result.next_action is NextAction.none
        assert result.provider_reference.startswith("pi_")
        assert result.amount_minor == builders.XOF_AMOUNT
        assert result.currency == "XOF"
        [intent] = await sandbox.listed("payments", provider="stripe")
        assert intent["request"]["amount"] == "5000"
        assert intent["request"]["currency"] == "xof"
        assert intent["metadata"] == {"sika_reference": request.reference}
        [webhook] = await sandbox.receiver.wait_for(1)
        assert webhook.path == "/hooks/stripe"
        event = json.loads(webhook.body)
        assert event["type"] == "payment_intent.succeeded"
        assert event["data"]["object"]["id"] == result.provider_reference
        signatures.verify(
            ProviderName.stripe, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
        )

    @pytest.mark.parametrize(
        ("token", "decline_code"),
        [
            ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
            ("card:4000000000009995", "insufficient_funds"),
            ("card:4000000000000002", "generic_decline"),
        ],
    )
    async def test_a_declined_card_is_declined_and_announced(
        self, sandbox: LiveSandbox, stripe: PaymentProvider, token: str, decline_code: str
    ) -> None:
        if token.startswith("card:"):
            token = await builders.stripe_card(sandbox, token.removeprefix("card:"))
        request = builders.card(token)
        with pytest.raises(errors.ProviderDeclined) as declined:
            await stripe.collect(request)
        assert declined.value.decline_code == decline_code
        assert declined.value.provider_reference is not None
        status = await stripe.collection_status(StatusLookup(request.reference, declined.value.provider_reference))
        assert status.status is CollectionStatus.failed
        assert status.failure_reason == decline_code
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["type"] == "payment_intent.payment_failed"

    async def test_3d_secure_redirects_and_succeeds_once_the_customer_passes_it(
        self, sandbox: LiveSandbox, stripe: PaymentProvider
    ) -> None:
        token = await builders.stripe_card(sandbox, "4000002500003155")
        request = builders.card(token, return_url="https://shop.test/back")
        result = await stripe.collect(request)
        assert result.status is CollectionStatus.pending
        assert result.next_action is NextAction.redirect
        assert result.redirect_url == f"{sandbox.url}/_sandbox/checkout/stripe/{result.provider_reference}"
        assert sandbox.receiver.received == []
        async with httpx.AsyncClient() as browser:
            page = await browser.get(result.redirect_url)
        assert page.status_code == 303
        status = await stripe.collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded
        await sandbox.receiver.wait_for(1)

    async def test_a_retry_after_no_answer_replays_the_same_intent_instead_of_charging_again(
        self,
        sandbox: LiveSandbox,
        stripe: PaymentProvider,
        impatient_providers: dict[ProviderName, PaymentProvider],
    ) -> None:
        token = await builders.stripe_card(sandbox, builders.stripe_number("0052"))
        request = builders.card(token)
        with pytest.raises(errors.OutcomeUnknown):
            await impatient_providers[ProviderName.stripe].collect(request)
        again = await stripe.collect(request)
        assert again.status is CollectionStatus.succeeded
        [intent] = await sandbox.listed("payments", provider="stripe")
        assert intent["id"] == again.provider_reference

    async def test_a_create_sent_while_the_first_still_runs_is_an_unknown_outcome_not_a_decline(
        self, sandbox: LiveSandbox, stripe: PaymentProvider
    ) -> None:
        request = builders.card(await builders.stripe_card(sandbox, builders.stripe_number("0054")))
        first, second = await asyncio.gather(stripe.collect(request), stripe.collect(request), return_exceptions=True)
        outcomes = sorted([first, second], key=lambda outcome: isinstance(outcome, BaseException))
        assert isinstance(outcomes[0], CollectionResult)
        assert outcomes[0].status is CollectionStatus.succeeded
        assert isinstance(outcomes[1], errors.OutcomeUnknown)
        assert len(await sandbox.listed("payments", provider="stripe")) == 1

    async def test_euros_travel_in_cents(self, sandbox: LiveSandbox, stripe: PaymentProvider) -> None:
        result = await stripe.collect(builders.card("pm_card_visa", amount_minor=1234, currency="EUR"))
        assert result.amount_minor == 1234
        [intent] = await sandbox.listed("payments", provider="stripe")
        assert intent["request"]["amount"] == "1234"
        assert intent["request"]["currency"] == "eur"

    async def test_does_not_collect_mobile_money_nor_pay_out(
        self, sandbox: LiveSandbox, stripe: PaymentProvider
    ) -> None:
        with pytest.raises(errors.OperationNotSupported):
            await stripe.collect(builders.mobile_money())
        with pytest.raises(errors.OperationNotSupported):
            await stripe.payout(builders.payout())
        assert await sandbox.listed("payments", provider="stripe") == []


class TestStripeLostCreate:
    """Search is not read-after-write (https://docs.stripe.com/search#data-freshness): a lost
    create is found by replaying it under its key, and a Search miss proves nothing."""

    @pytest.fixture(autouse=True)
    async def search_lags(self, sandbox: LiveSandbox) -> None:
        async with sandbox.admin() as admin:
            changed = await admin.patch("/config", json={"stripe_search_lag_seconds": 3600})
        assert changed.json()["stripe_search_lag_seconds"] == 3600

    async def test_a_create_whose_answer_was_lost_is_found_by_replaying_it(
        self,
        sandbox: LiveSandbox,
        stripe: PaymentProvider,
        impatient_providers: dict[ProviderName, PaymentProvider],
    ) -> None:
        request = builders.card(await builders.stripe_card(sandbox, builders.stripe_number("0052")))
        sent_at = clock.now()
        with pytest.raises(errors.OutcomeUnknown):
            await impatient_providers[ProviderName.stripe].collect(request)
        found = await stripe.collection_status(StatusLookup(request.reference, request=request, requested_at=sent_at))
        assert found.status is CollectionStatus.succeeded
        [intent] = await sandbox.listed("payments", provider="stripe")
        assert found.provider_reference == intent["id"]

    async def test_a_replayed_decline_reads_as_failed_with_its_reason(
        self, sandbox: LiveSandbox, stripe: PaymentProvider
    ) -> None:
        request = builders.card("pm_card_chargeDeclinedInsufficientFunds")
        with pytest.raises(errors.ProviderDeclined):
            await stripe.collect(request)
        found = await stripe.collection_status(
            StatusLookup(request.reference, request=request, requested_at=clock.now())
        )
        assert (found.status, found.failure_reason) == (CollectionStatus.failed, "insufficient_funds")
        assert len(await sandbox.listed("payments", provider="stripe")) == 1

    async def test_a_search_miss_is_an_unknown_outcome_never_not_found(
        self, sandbox: LiveSandbox, stripe: PaymentProvider
    ) -> None:
        request = builders.card("pm_card_visa")
        assert (await stripe.collect(request)).status is CollectionStatus.succeeded
        long_ago = clock.now() - timedelta(days=2)
        for lookup in (
            StatusLookup(request.reference),
            # Past the key's 24 h a replay could charge again: only Search is asked.
            StatusLookup(request.reference, request=request, requested_at=long_ago),
        ):
            with pytest.raises(errors.OutcomeUnknown):
                await stripe.collection_status(lookup)
        assert len(await sandbox.listed("payments", provider="stripe")) == 1


class TestStripeAmounts:
    """A success is checked against the collection with what Stripe received."""

    async def lookup(self, intent: dict[str, Any]) -> Any:
        answer = {"id": "pi_1", "currency": "xof", "metadata": {"sika_reference": "col_abc"}, **intent}
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
        async with httpx.AsyncClient(transport=transport) as client:
            stripe = StripeProvider(
                client, base_url="https://stripe.test", secret_key="sk_test", timeout=httpx.Timeout(5.0)
            )
            return await stripe.collection_status(StatusLookup("col_abc", "pi_1"))

    async def test_a_succeeded_intent_reports_what_was_received_not_what_was_asked(self) -> None:
        result = await self.lookup({"status": "succeeded", "amount": 5_000, "amount_received": 4_999})
        assert (result.status, result.amount_minor) == (CollectionStatus.succeeded, 4_999)

    async def test_a_succeeded_intent_that_does_not_say_what_it_received_is_refused(self) -> None:
        with pytest.raises(errors.WireAmountNotWhole):
            await self.lookup({"status": "succeeded", "amount": 5_000})

    async def test_a_pending_intent_reports_what_it_asks_for(self) -> None:
        result = await self.lookup({"status": "processing", "amount": 5_000, "amount_received": 0})
        assert (result.status, result.amount_minor) == (CollectionStatus.pending, 5_000)
