from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from sika.core import clock
from sika.providers import errors, events, signatures, wire
from sika.providers import fedapay as fedapay_adapter
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
    @pytest.mark.parametrize(("operator", "country", "mode"), [(MobileOperator.mtn, "CI", "mtn_ci")])
    async def test_sends_the_request_to_the_phone_and_succeeds_by_webhook(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider, operator: MobileOperator, country: str, mode: str
    ) -> None:
        request = dataclasses.replace(builders.mobile_money(operator=operator), country=country)
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

    @pytest.mark.parametrize(
        ("operator", "country"),
        [(MobileOperator.orange, "CI"), (MobileOperator.moov, "CI"), (MobileOperator.orange, "SN")],
    )
    async def test_a_mode_fedapay_cannot_send_without_a_redirect_goes_through_the_checkout(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider, operator: MobileOperator, country: str
    ) -> None:
        request = dataclasses.replace(
            builders.mobile_money(operator=operator, return_url="https://shop.test/back"), country=country
        )
        result = await fedapay.collect(request)
        assert result.status is CollectionStatus.pending
        assert result.next_action is NextAction.redirect
        assert result.redirect_url is not None
        assert result.redirect_url.startswith(
            f"{sandbox.url}/_sandbox/checkout/fedapay/{result.provider_reference}?token="
        )
        [payment] = await sandbox.listed("payments", provider="fedapay")
        assert (payment["mode"], payment["status"]) == (None, "pending")
        assert sandbox.receiver.received == []
        async with httpx.AsyncClient() as browser:
            page = await browser.get(result.redirect_url)
        assert page.headers["location"] == "https://shop.test/back"
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["name"] == "transaction.approved"
        status = await fedapay.collection_status(StatusLookup(request.reference, result.provider_reference))
        assert status.status is CollectionStatus.succeeded

    async def test_asks_for_the_currency_and_leaves_the_reference_in_custom_metadata(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.mobile_money()
        result = await fedapay.collect(request)
        [payment] = await sandbox.listed("payments", provider="fedapay")
        assert payment["request"]["include"] == "currency"
        assert payment["request"]["custom_metadata"] == {"sika_reference": request.reference}
        assert payment["metadata"] == {"sika_reference": request.reference}
        for lookup in (StatusLookup(request.reference, result.provider_reference), StatusLookup(request.reference)):
            status = await fedapay.collection_status(lookup)
            assert (status.currency, status.amount_minor) == ("XOF", builders.XOF_AMOUNT)

    async def test_a_webhook_that_names_its_currency_by_id_only_is_read(
        self, sandbox: LiveSandbox, fedapay: PaymentProvider
    ) -> None:
        request = builders.mobile_money()
        await fedapay.collect(request)
        [webhook] = await sandbox.receiver.wait_for(1)
        entity = json.loads(webhook.body)["entity"]
        assert "currency" not in entity
        assert entity["currency_id"] == 1
        event = events.parse(ProviderName.fedapay, webhook.body)
        assert (event.reference, event.currency, event.amount_minor) == (
            request.reference,
            "XOF",
            builders.XOF_AMOUNT,
        )

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


class TestFedapayCurrency:
    def test_a_transaction_with_a_currency_id_alone_is_read_as_xof(self) -> None:
        transaction = {"id": 1, "amount": 5000, "status": "approved", "currency_id": 1}
        assert fedapay_adapter.currency_of(transaction) == "XOF"

    def test_a_currency_id_sika_does_not_know_is_refused_not_guessed(self) -> None:
        with pytest.raises(wire.CurrencyNotSupported):
            fedapay_adapter.currency_of({"id": 1, "amount": 5000, "currency_id": 99})
        with pytest.raises(wire.CurrencyNotSupported):
            fedapay_adapter.currency_of({"id": 1, "amount": 5000})


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
        assert payout["request"]["include"] == "currency"
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
