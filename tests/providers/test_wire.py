"""5 000 XOF is 500000 on Paystack's wire and 5000 on FedaPay's and Stripe's.
Each test here fails on a 100× error in either direction."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sika.providers import errors, wire
from sika.providers.base import PaymentProvider, ProviderName
from tests.providers import builders
from tests.support.sandbox import LiveSandbox


class TestTheWireTable:
    @pytest.mark.parametrize(
        ("provider", "currency", "minor", "on_the_wire"),
        [
            (ProviderName.paystack, "XOF", 5_000, 500_000),
            (ProviderName.paystack, "GHS", 1_250, 1_250),
            (ProviderName.fedapay, "XOF", 5_000, 5_000),
            (ProviderName.stripe, "XOF", 5_000, 5_000),
            (ProviderName.stripe, "EUR", 1_234, 1_234),
        ],
    )
    def test_converts_both_ways_exactly(
        self, provider: ProviderName, currency: str, minor: int, on_the_wire: int
    ) -> None:
        assert wire.to_wire(provider, currency, minor) == on_the_wire
        assert wire.from_wire(provider, currency, on_the_wire) == minor

    def test_refuses_a_paystack_amount_that_is_not_whole_francs(self) -> None:
        with pytest.raises(errors.WireAmountNotWhole):
            wire.from_wire(ProviderName.paystack, "XOF", 500_050)

    @pytest.mark.parametrize("sent", [5_000.4, 5_000.0, "5000.4", True, None, "5 000"])
    def test_refuses_anything_but_an_integer_rather_than_truncate_it(self, sent: object) -> None:
        with pytest.raises(errors.WireAmountNotWhole):
            wire.from_wire(ProviderName.fedapay, "XOF", sent)

    def test_takes_an_amount_sent_as_a_string_of_digits(self) -> None:
        assert wire.from_wire(ProviderName.paystack, "XOF", "500000") == 5_000

    def test_refuses_a_currency_the_provider_is_not_listed_for(self) -> None:
        with pytest.raises(wire.CurrencyNotSupported):
            wire.to_wire(ProviderName.fedapay, "EUR", 100)


async def _recorded(sandbox: LiveSandbox, what: str, provider: str) -> dict[str, Any]:
    [item] = await sandbox.listed(what, provider=provider)
    return item


class TestXofOnTheWire:
    async def test_paystack_charges_hundredths(self, sandbox: LiveSandbox, paystack: PaymentProvider) -> None:
        result = await paystack.collect(builders.mobile_money())
        charge = await _recorded(sandbox, "payments", "paystack")
        assert charge["request"]["amount"] == 500_000
        assert result.amount_minor == 5_000
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["data"]["amount"] == 500_000

    async def test_fedapay_charges_whole_francs(self, sandbox: LiveSandbox, fedapay: PaymentProvider) -> None:
        result = await fedapay.collect(builders.mobile_money())
        transaction = await _recorded(sandbox, "payments", "fedapay")
        assert transaction["request"]["amount"] == 5_000
        assert transaction["request"]["currency"] == {"iso": "XOF"}
        assert result.amount_minor == 5_000
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["entity"]["amount"] == 5_000

    async def test_stripe_charges_whole_francs(self, sandbox: LiveSandbox, stripe: PaymentProvider) -> None:
        result = await stripe.collect(builders.card("pm_card_visa"))
        intent = await _recorded(sandbox, "payments", "stripe")
        assert intent["request"]["amount"] == "5000"
        assert result.amount_minor == 5_000
        [webhook] = await sandbox.receiver.wait_for(1)
        assert json.loads(webhook.body)["data"]["object"]["amount"] == 5_000

    async def test_paystack_pays_out_hundredths(self, sandbox: LiveSandbox, paystack: PaymentProvider) -> None:
        result = await paystack.payout(builders.payout())
        transfer = await _recorded(sandbox, "payouts", "paystack")
        assert transfer["request"]["amount"] == 500_000
        assert result.amount_minor == 5_000

    async def test_fedapay_pays_out_whole_francs(self, sandbox: LiveSandbox, fedapay: PaymentProvider) -> None:
        result = await fedapay.payout(builders.payout())
        payout = await _recorded(sandbox, "payouts", "fedapay")
        assert payout["request"]["amount"] == 5_000
        assert result.amount_minor == 5_000
