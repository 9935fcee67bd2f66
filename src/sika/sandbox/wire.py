"""How each fake provider reads an amount, as the real one does.

This table is the sandbox's own, kept apart from ``sika.providers.wire`` on
purpose: it plays the provider's side, so an adapter that converts wrongly is
caught here instead of agreeing with itself.
"""

from __future__ import annotations

from sika.core import money

PAYSTACK = "paystack"
FEDAPAY = "fedapay"
STRIPE = "stripe"
PROVIDERS = (PAYSTACK, FEDAPAY, STRIPE)

WIRE_EXPONENTS: dict[str, dict[str, int]] = {
    PAYSTACK: {"NGN": 2, "GHS": 2, "KES": 2, "ZAR": 2, "USD": 2, "XOF": 2},
    FEDAPAY: {"XOF": 0, "GNF": 0},
    STRIPE: {"XOF": 0, "XAF": 0, "GNF": 0, "EUR": 2, "USD": 2, "GBP": 2, "CAD": 2, "CHF": 2},
}


def check(provider: str, currency: str, amount: object) -> str | None:
    """Why ``amount`` of ``currency`` is not acceptable to ``provider``, or None."""
    exponents = WIRE_EXPONENTS[provider]
    if currency not in exponents:
        return f"Currency {currency} is not supported"
    if isinstance(amount, bool) or not isinstance(amount, int):
        return "Amount must be an integer"
    if amount <= 0:
        return "Amount must be positive"
    if amount % unit(provider, currency):
        return (
            f"Amount {amount} is not a whole number of {currency} minor units "
            f"(amounts are in 10^-{exponents[currency]})"
        )
    return None


def unit(provider: str, currency: str) -> int:
    """The wire amount of one ISO minor unit (Paystack XOF: 100 for one franc)."""
    return int(10 ** (WIRE_EXPONENTS[provider][currency] - money.exponent(currency)))
