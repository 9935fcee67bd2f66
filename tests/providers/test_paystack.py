from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from sika.core import clock
from sika.providers import errors, signatures
from sika.providers.base import (
    CollectionStatus,
    MobileOperator,
    NextAction,
    OtpSubmission,
    PaymentProvider,
    PayoutStatus,
    ProviderName,
    StatusLookup,
)
from sika.providers.paystack import PaystackProvider
from tests.providers import builders
from tests.support.sandbox import PAYSTACK_SECRET, LiveSandbox


def lookup(result_reference: str, provider_reference: str) -> StatusLookup:
    return StatusLookup(reference=result_reference, provider_reference=provider_reference)


class TestPaystackCollect:
    @pytest.mark.parametrize("operator", [MobileOperator.mtn, MobileOperator.moov])
    async def test_mtn_and_moov_ask_for_approval_on_the_phone_then_succeed(
        self, sandbox: LiveSandbox, paystack: PaymentProvider, operator: MobileOperator
    ) -> None:
        request = builders.mobile_money(operator=operator)
        result = await paystack.collect(request)
        assert result.provider is ProviderName.paystack
        assert result.status is CollectionStatus.pending
        assert result.next_action is NextAction.approve_on_phone
        assert result.provider_status == "pay_offline"
        assert result.provider_reference == request.reference
        assert result.amount_minor == builders.XOF_AMOUNT
        assert result.display_text == "Please complete authorization process on your mobile phone"
        [webhook] = await sandbox.receiver.wait_for(1)
        assert webhook.path == "/hooks/paystack"
        event = json.loads(webhook.body)
        assert event["event"] == "charge.success"
        assert event["data"]["reference"] == request.reference
        assert event["data"]["amount"] == 500_000
        assert event["data"]["currency"] == "XOF"
        signatures.verify(
            ProviderName.paystack,
            body=webhook.body,
            headers=webhook.headers,
            settings=sandbox.settings,
            now=clock.now(),
        )
        status = await paystack.collection_status(lookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded
        assert status.amount_minor == builders.XOF_AMOUNT
        assert status.provider_status == "success"

    async def test_orange_asks_for_an_otp_and_succeeds_with_the_right_one(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.mobile_money(operator=MobileOperator.orange)
        result = await paystack.collect(request)
        assert result.status is CollectionStatus.pending
        assert result.next_action is NextAction.submit_otp
        assert result.provider_status == "send_otp"
        assert result.display_text is not None
        assert "#144*82#" in result.display_text
        assert sandbox.receiver.received == []
        done = await paystack.submit_otp(
            OtpSubmission(reference=request.reference, provider_reference=result.provider_reference, otp="123456")
        )
        assert done.status is CollectionStatus.succeeded
        assert done.amount_minor == builders.XOF_AMOUNT
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["event"] == "charge.success"

    async def test_orange_with_a_wrong_otp_is_declined(self, sandbox: LiveSandbox, paystack: PaymentProvider) -> None:
        request = builders.mobile_money(operator=MobileOperator.orange)
        result = await paystack.collect(request)
        with pytest.raises(errors.ProviderDeclined) as declined:
            await paystack.submit_otp(
                OtpSubmission(reference=request.reference, provider_reference=result.provider_reference, otp="000000")
            )
        assert declined.value.decline_code == "invalid_otp"
        [payment] = await sandbox.listed("payments", provider="paystack")
        assert payment["status"] == "failed"
        assert sandbox.receiver.received == []

    async def test_wave_redirects_the_customer_and_succeeds_when_they_pay(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.mobile_money(operator=MobileOperator.wave)
        result = await paystack.collect(request)
        assert result.status is CollectionStatus.pending
        assert result.next_action is NextAction.redirect
        assert result.redirect_url == f"{sandbox.url}/_sandbox/checkout/paystack/{request.reference}"
        pending = await paystack.collection_status(lookup(request.reference, result.provider_reference))
        assert pending.status is CollectionStatus.pending
        async with httpx.AsyncClient() as browser:
            page = await browser.get(result.redirect_url)
        assert page.status_code == 200
        status = await paystack.collection_status(lookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded
        await sandbox.receiver.wait_for(1)

    async def test_insufficient_funds_is_declined_and_announced_by_no_webhook(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.mobile_money(last_four="0051")
        with pytest.raises(errors.ProviderDeclined) as declined:
            await paystack.collect(request)
        assert declined.value.decline_code == "insufficient_funds"
        assert declined.value.provider_reference == request.reference
        status = await paystack.collection_status(lookup(request.reference, request.reference))
        assert status.status is CollectionStatus.failed
        assert status.failure_reason == "Insufficient funds"
        assert sandbox.receiver.received == []

    async def test_a_saved_card_authorisation_is_charged_at_once(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        # A first card payment (made in Paystack's checkout) yields a reusable authorisation.
        async with httpx.AsyncClient() as client:
            first = await client.post(
                f"{sandbox.url}/paystack/charge",
                json={
                    "email": "awa@example.com",
                    "amount": 10_000,
                    "currency": "XOF",
                    "card": {"number": "4084084084084081", "cvv": "408", "expiry_month": "12", "expiry_year": "2034"},
                },
                headers={"Authorization": f"Bearer {PAYSTACK_SECRET}"},
            )
        authorization = first.json()["data"]["authorization"]["authorization_code"]
        request = builders.card(authorization)
        result = await paystack.collect(request)
        assert result.status is CollectionStatus.succeeded
        assert result.amount_minor == builders.XOF_AMOUNT
        await sandbox.receiver.wait_for(2)

    async def test_a_retry_with_the_same_reference_answers_from_paystack_without_a_second_charge(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.mobile_money()
        first = await paystack.collect(request)
        await sandbox.receiver.wait_for(1)
        again = await paystack.collect(request)
        assert again.provider_reference == first.provider_reference
        assert again.status is CollectionStatus.succeeded
        assert len(await sandbox.listed("payments", provider="paystack")) == 1

    async def test_a_retry_while_the_first_charge_waits_for_its_otp_still_asks_for_the_otp(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.mobile_money(operator=MobileOperator.orange)
        await paystack.collect(request)
        again = await paystack.collect(request)
        assert again.status is CollectionStatus.pending
        assert again.next_action is NextAction.submit_otp
        assert again.amount_minor == builders.XOF_AMOUNT
        assert len(await sandbox.listed("payments", provider="paystack")) == 1

    async def test_refuses_to_collect_a_phone_without_its_operator(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.mobile_money()
        with pytest.raises(errors.ProviderDeclined) as declined:
            await paystack.collect(dataclasses.replace(request, operator=None))
        assert declined.value.decline_code == "invalid_request"
        assert await sandbox.listed("payments", provider="paystack") == []

    async def test_a_wrong_secret_key_makes_paystack_unavailable(
        self, sandbox: LiveSandbox, http_client: httpx.AsyncClient, paystack: PaymentProvider
    ) -> None:
        wrong = PaystackProvider(
            http_client,
            base_url=sandbox.settings.PAYSTACK_BASE_URL,
            secret_key="sk_test_wrong",
            timeout=httpx.Timeout(1.0),
        )
        with pytest.raises(errors.ProviderUnavailable, match="credentials"):
            await wrong.collect(builders.mobile_money())
        assert await sandbox.listed("payments", provider="paystack") == []

    async def test_a_status_lookup_of_an_unknown_reference_is_not_found(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        with pytest.raises(errors.NotFoundAtProvider):
            await paystack.collection_status(lookup("col_x", "col_x"))


class TestPaystackPayout:
    async def test_a_transfer_is_queued_then_succeeds_by_webhook(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.payout()
        result = await paystack.payout(request)
        assert result.status is PayoutStatus.pending
        assert result.provider_reference.startswith("TRF_")
        assert result.amount_minor == builders.XOF_AMOUNT
        [webhook] = await sandbox.receiver.wait_for(1)
        event = json.loads(webhook.body)
        assert event["event"] == "transfer.success"
        assert event["data"]["reference"] == request.reference
        assert event["data"]["amount"] == 500_000
        status = await paystack.payout_status(lookup(request.reference, result.provider_reference))
        assert status.status is PayoutStatus.succeeded

    async def test_with_transfer_otp_on_it_waits_for_finalize_with_the_otp(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        async with sandbox.admin() as admin:
            await admin.patch("/config", json={"paystack_transfer_otp": True})
        request = builders.payout()
        result = await paystack.payout(request)
        assert result.status is PayoutStatus.requires_otp
        with pytest.raises(errors.ProviderDeclined) as declined:
            await paystack.finalize_payout(
                OtpSubmission(reference=request.reference, provider_reference=result.provider_reference, otp="999999")
            )
        assert declined.value.decline_code == "invalid_otp"
        finalized = await paystack.finalize_payout(
            OtpSubmission(reference=request.reference, provider_reference=result.provider_reference, otp="123456")
        )
        assert finalized.status is PayoutStatus.pending
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["event"] == "transfer.success"

    async def test_a_short_balance_is_declined_before_anything_is_queued(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        with pytest.raises(errors.ProviderDeclined) as declined:
            await paystack.payout(builders.payout(last_four="0051"))
        assert declined.value.decline_code == "insufficient_funds"
        assert await sandbox.listed("payouts") == []

    async def test_a_transfer_the_wallet_refuses_fails_later_by_webhook(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.payout(last_four="0002")
        result = await paystack.payout(request)
        assert result.status is PayoutStatus.pending
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["event"] == "transfer.failed"
        status = await paystack.payout_status(lookup(request.reference, result.provider_reference))
        assert status.status is PayoutStatus.failed
        assert status.failure_reason == "The recipient's wallet could not be credited"

    async def test_a_reversal_heard_before_the_success_leaves_the_transfer_reversed(
        self, sandbox: LiveSandbox, paystack: PaymentProvider
    ) -> None:
        request = builders.payout(last_four="0063")
        result = await paystack.payout(request)
        first, second = await sandbox.receiver.wait_for(2)
        assert json.loads(first.body)["event"] == "transfer.reversed"
        assert json.loads(second.body)["event"] == "transfer.success"
        status = await paystack.payout_status(lookup(request.reference, result.provider_reference))
        assert status.status is PayoutStatus.reversed
