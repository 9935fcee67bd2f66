"""What the sandbox does with a request: chosen by the customer's phone or
card number (its last four digits), by a provider's documented test card or
payment method, or forced for a whole provider through the admin endpoint.

Any number not listed succeeds. The operator (``orange``, ``mtn``, ``moov``,
``wave``) decides the flow of a successful mobile-money charge: Orange asks
for an OTP, MTN and Moov for an approval on the phone, Wave for a redirect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scenario(StrEnum):
    success = "success"
    insufficient_funds = "insufficient_funds"
    declined = "declined"
    authentication_required = "authentication_required"
    """Cards: 3-D Secure, completed at a redirect URL."""
    no_answer = "no_answer"
    """The operation is recorded, but the answer comes only after SANDBOX_NO_ANSWER_SECONDS."""
    outage = "outage"
    """503 before anything is recorded."""
    latency = "latency"
    """The answer comes after SANDBOX_LATENCY_SECONDS, then everything proceeds normally."""
    webhook_duplicate = "webhook_duplicate"
    webhook_late = "webhook_late"
    webhook_out_of_order = "webhook_out_of_order"
    webhook_never = "webhook_never"
    webhook_amount_mismatch = "webhook_amount_mismatch"


@dataclass(frozen=True)
class MagicNumber:
    last_four: str
    scenario: Scenario
    what_happens: str


MAGIC_NUMBERS: tuple[MagicNumber, ...] = (
    MagicNumber(
        "0051",
        Scenario.insufficient_funds,
        "declined for insufficient funds (payouts: the merchant balance is short)",
    ),
    MagicNumber("9995", Scenario.insufficient_funds, "Stripe's test card 4000 0000 0000 9995"),
    MagicNumber(
        "0002",
        Scenario.declined,
        "declined (Stripe's test card 4000 0000 0000 0002); payouts fail after they were accepted",
    ),
    MagicNumber(
        "3155",
        Scenario.authentication_required,
        "3-D Secure redirect (Stripe's test card 4000 0025 0000 3155)",
    ),
    MagicNumber("0052", Scenario.no_answer, "no answer within the timeout, yet the operation proceeds"),
    MagicNumber("0053", Scenario.outage, "503 Service Unavailable, nothing recorded"),
    MagicNumber("0054", Scenario.latency, "slow answer, then success"),
    MagicNumber("0061", Scenario.webhook_duplicate, "success; the final webhook is sent twice"),
    MagicNumber("0062", Scenario.webhook_late, "success; the final webhook comes late"),
    MagicNumber("0063", Scenario.webhook_out_of_order, "success; webhooks arrive out of order"),
    MagicNumber("0064", Scenario.webhook_never, "success; the final webhook is never sent"),
    MagicNumber(
        "0065",
        Scenario.webhook_amount_mismatch,
        "success; the final webhook states an amount one minor unit short",
    ),
)

_BY_LAST_FOUR = {magic.last_four: magic.scenario for magic in MAGIC_NUMBERS}

STRIPE_TEST_PAYMENT_METHODS: dict[str, Scenario] = {
    "pm_card_visa": Scenario.success,
    "pm_card_mastercard": Scenario.success,
    "pm_card_chargeDeclined": Scenario.declined,
    "pm_card_chargeDeclinedInsufficientFunds": Scenario.insufficient_funds,
    "pm_card_visa_chargeDeclinedInsufficientFunds": Scenario.insufficient_funds,
    "pm_card_authenticationRequired": Scenario.authentication_required,
}
"""Stripe's documented test payment methods, usable without creating one."""

VALID_OTP = "123456"
"""The one OTP the sandbox accepts (Orange Money charges, Paystack transfers)."""

WEBHOOK_SCENARIOS = frozenset(
    {
        Scenario.webhook_duplicate,
        Scenario.webhook_late,
        Scenario.webhook_out_of_order,
        Scenario.webhook_never,
        Scenario.webhook_amount_mismatch,
    }
)


def for_number(number: str | None) -> Scenario:
    """The scenario a phone or card number selects; unlisted numbers succeed."""
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    return _BY_LAST_FOUR.get(digits[-4:], Scenario.success)
