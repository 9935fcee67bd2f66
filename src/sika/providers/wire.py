"""Amounts on the wire: each provider's unit per currency (docs/architecture.md, Money).

Sika holds amounts in the ISO 4217 minor unit (XOF: francs, exponent 0).
Providers disagree: Paystack counts every currency in hundredths, so 5 000 XOF
goes out as ``500000``; FedaPay and Stripe send XOF in whole francs. Getting
this wrong is a 100× error, so the table is explicit per (provider, currency)
and a currency missing from it is refused rather than guessed.
"""

from __future__ import annotations

from sika.core import money
from sika.providers import errors
from sika.providers.base import ProviderName

WIRE_EXPONENTS: dict[tuple[ProviderName, str], int] = {
    (ProviderName.paystack, "NGN"): 2,
    (ProviderName.paystack, "GHS"): 2,
    (ProviderName.paystack, "KES"): 2,
    (ProviderName.paystack, "ZAR"): 2,
    (ProviderName.paystack, "USD"): 2,
    (ProviderName.paystack, "XOF"): 2,
    (ProviderName.fedapay, "XOF"): 0,
    (ProviderName.fedapay, "GNF"): 0,
    (ProviderName.stripe, "XOF"): 0,
    (ProviderName.stripe, "XAF"): 0,
    (ProviderName.stripe, "GNF"): 0,
    (ProviderName.stripe, "EUR"): 2,
    (ProviderName.stripe, "USD"): 2,
    (ProviderName.stripe, "GBP"): 2,
    (ProviderName.stripe, "CAD"): 2,
    (ProviderName.stripe, "CHF"): 2,
}
"""Decimal places of the integer each provider expects, per currency."""


class CurrencyNotSupported(errors.OperationNotSupported):
    """This payment provider does not handle this currency."""

    code = "provider_currency_not_supported"


def wire_exponent(provider: ProviderName, currency: str) -> int:
    try:
        return WIRE_EXPONENTS[(provider, currency)]
    except KeyError:
        raise CurrencyNotSupported(f"{provider.value} does not handle {currency}", provider=provider.value) from None


def supports(provider: ProviderName, currency: str) -> bool:
    return (provider, currency) in WIRE_EXPONENTS


def to_wire(provider: ProviderName, currency: str, amount_minor: int) -> int:
    """The integer ``provider`` expects for ``amount_minor`` of ``currency``."""
    shift = wire_exponent(provider, currency) - money.exponent(currency)
    if shift >= 0:
        return amount_minor * _power_of_ten(shift)
    unit = _power_of_ten(-shift)
    if amount_minor % unit:
        raise CurrencyNotSupported(
            f"{provider.value} cannot carry {amount_minor} minor units of {currency}",
            provider=provider.value,
        )
    return amount_minor // unit


def from_wire(provider: ProviderName, currency: str, wire_amount: object) -> int:
    """Minor units of ``currency`` for the integer ``provider`` sent; never rounds.

    ``wire_amount`` is the value as it came out of the provider's JSON. Only an
    integer (or a string of digits) is an amount: ``int(5000.4)`` would quietly
    make it 5000 and match a collection of 5 000, so a float is refused."""
    wire_amount = _integer(provider, currency, wire_amount)
    shift = wire_exponent(provider, currency) - money.exponent(currency)
    if shift <= 0:
        return wire_amount * _power_of_ten(-shift)
    unit = _power_of_ten(shift)
    if wire_amount % unit:
        raise errors.WireAmountNotWhole(
            f"{provider.value} sent {wire_amount} for {currency}: not whole minor units",
            provider=provider.value,
        )
    return wire_amount // unit


def _integer(provider: ProviderName, currency: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise errors.WireAmountNotWhole(
        f"{provider.value} sent {value!r} for {currency}: not a whole number", provider=provider.value
    )


def _power_of_ten(exponent: int) -> int:
    assert exponent >= 0
    result = 1
    for _ in range(exponent):
        result *= 10
    return result
