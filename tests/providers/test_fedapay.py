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
from tests.providers import builders
from tests.support.sandbox import LiveSandbox


class TestFedapayCollect:
    @pytest.mark.parametrize(
        ("operator", "mode"),
        [(MobileOperator.mtn, "mtn_ci"), (MobileOperator.moov, "moov_ci"), (MobileOperator.orange, "orange_ci")],
    )
    async def test_sends_the_request_to_the_phone_and_succeeds_by_webhook(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider, operator: MobileOperator, mode: str
    ) -> None:
        request = builders.mobile_money(operator=operator)
        result = await fedapay.collect(request)
        assert result.provider is ProviderName.fedapay
        assert result.status is CollectionStatus.pending
        assert result.next_action is NextAction.approve_on_phone
        assert result.amount_minor == builders.XOF_AMOUNT
        [payment] = await sandbox.listed("payments", provider="fedapay")
        assert payment["id"] == result.provider_reference
        assert payment["mode"] == mode
        assert payment["merchant_reference"] == request.reference
        [webhook] = await sandbox.receiver.wait_for(1)
        assert webhook.path == "/hooks/fedapay"
        event = json.loads(webhook.body)
        assert event["name"] == "transaction.approved"
        assert event["entity"]["klass"] == "v1/transaction"
        assert event["entity"]["merchant_reference"] == request.reference
        assert event["entity"]["amount"] == 5_000
        signatures.verify(
            ProviderName.fedapay, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
        )
        status = await fedapay.collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded
        assert status.provider_status == "approved"

    async def test_wave_redirects_to_the_checkout_and_succeeds_when_the_customer_pays(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.mobile_money(operator=MobileOperator.wave, return_url="https://shop.test/back")
        result = await fedapay.collect(request)
        assert result.next_action is NextAction.redirect
        assert result.redirect_url is not None
        assert result.redirect_url.startswith(
            f"{sandbox.url}/_sandbox/checkout/fedapay/{result.provider_reference}?token="
        )
        async with httpx.AsyncClient() as browser:
            page = await browser.get(result.redirect_url)
        assert page.status_code == 303
        assert page.headers["location"] == "https://shop.test/back"
        status = await fedapay.collection_status(StatusLookup(request.reference))
        assert status.status is CollectionStatus.succeeded
        await sandbox.receiver.wait_for(1)

    async def test_a_customer_who_refuses_at_the_checkout_cancels_the_transaction(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.mobile_money(operator=MobileOperator.wave)
        result = await fedapay.collect(request)
        assert result.redirect_url is not None
        async with httpx.AsyncClient() as browser:
            await browser.get(result.redirect_url, params={"outcome": "failed"})
        status = await fedapay.collection_status(StatusLookup(request.reference))
        assert status.status is CollectionStatus.failed
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["name"] == "transaction.canceled"

    async def test_insufficient_funds_is_declined_and_announced(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.mobile_money(last_four="0051")
        with pytest.raises(errors.ProviderDeclined) as declined:
            await fedapay.collect(request)
        assert declined.value.decline_code == "insufficient_funds"
        status = await fedapay.collection_status(StatusLookup(request.reference))
        assert status.status is CollectionStatus.failed
        assert status.failure_reason == "INSUFFICIENT_FUND"
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["name"] == "transaction.declined"

    async def test_takes_no_otp(self, sandbox: LiveSandbox, fedapay: PaymentProvider) -> None:
        with pytest.raises(errors.OperationNotSupported):
            await fedapay.submit_otp(OtpSubmission(reference="col_x", provider_reference="1", otp="1"))

    async def test_refuses_an_operator_it_has_no_mode_for_before_calling(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.mobile_money(operator=MobileOperator.wave)
        with pytest.raises(errors.OperationNotSupported):
            await fedapay.collect(dataclasses.replace(request, country="BJ"))
        assert await sandbox.listed("payments", provider="fedapay") == []


class TestFedapayPayout:
    async def test_a_payout_is_created_started_and_sent(self, sandbox: LiveSandbox, fedapay: PaymentProvider) -> None:
        request = builders.payout()
        result = await fedapay.payout(request)
        assert result.status is PayoutStatus.pending
        assert result.provider_status == "started"
        assert result.amount_minor == builders.XOF_AMOUNT
        [payout] = await sandbox.listed("payouts", provider="fedapay")
        assert payout["amount"] == 5_000
        assert payout["mode"] == "mtn_ci"
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["name"] == "payout.sent"
        status = await fedapay.payout_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is PayoutStatus.succeeded

    async def test_a_payout_the_wallet_refuses_fails_by_webhook(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.payout(last_four="0002")
        result = await fedapay.payout(request)
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["name"] == "payout.failed"
        status = await fedapay.payout_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is PayoutStatus.failed

    async def test_a_short_balance_is_declined(self, sandbox: LiveSandbox, fedapay: PaymentProvider) -> None:
        with pytest.raises(errors.ProviderDeclined):
            await fedapay.payout(builders.payout(last_four="0051"))
        assert await sandbox.listed("payouts", provider="fedapay") == []
