"""Currencies and their minor units (ISO 4217).

Amounts are integers in the currency's minor unit everywhere; this table
says what one unit is. XOF and XAF have no minor unit in ISO 4217, so one
unit is one franc.
"""

from __future__ import annotations

from sika.core import errors

CURRENCY_EXPONENTS: dict[str, int] = {
    "XOF": 0,
    "XAF": 0,
    "GNF": 0,
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "GHS": 2,
    "NGN": 2,
    "KES": 2,
    "ZAR": 2,
    "MAD": 2,
    "CAD": 2,
    "CHF": 2,
}

MAX_AMOUNT_MINOR = 2**63 - 1
"""The largest BIGINT: no single amount or account total may pass it."""


class UnknownCurrency(errors.ValidationFailed):
    """This currency is not supported."""

    code = "unknown_currency"


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"Unknown currency {currency!r}; supported: " + ", ".join(sorted(CURRENCY_EXPONENTS))
        ) from None


def check_currency(currency: str) -> str:
    exponent(currency)
    return currency
