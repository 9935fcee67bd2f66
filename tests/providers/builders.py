"""Requests the tests send, built around the sandbox's magic numbers."""

from __future__ import annotations

import httpx

from sika.core.ids import new_id
from sika.providers.base import (
    CollectionRequest,
    MobileOperator,
    PaymentMethod,
    PayoutRequest,
)
from tests.support.sandbox import STRIPE_SECRET, LiveSandbox

XOF_AMOUNT = 5000
"""Five thousand francs: 500000 on Paystack's wire, 5000 on FedaPay's and Stripe's."""


def reference(prefix: str = "col") -> str:
    return new_id(prefix)


def phone(last_four: str = "0000") -> str:
    """A Côte d'Ivoire number whose last four digits choose the sandbox scenario."""
    return f"+225070000{last_four}"


def mobile_money(
    *,
    last_four: str = "0000",
    operator: MobileOperator = MobileOperator.mtn,
    amount_minor: int = XOF_AMOUNT,
    currency: str = "XOF",
    ref: str | None = None,
    return_url: str | None = None,
) -> CollectionRequest:
    return CollectionRequest(
        reference=ref or reference(),
        amount_minor=amount_minor,
        currency=currency,
        method=PaymentMethod.mobile_money,
        customer_email="awa@example.com",
        phone=phone(last_four),
        operator=operator,
        country="CI",
        description="Order 42",
        return_url=return_url,
    )


def card(
    token: str,
    *,
    amount_minor: int = XOF_AMOUNT,
    currency: str = "XOF",
    ref: str | None = None,
    return_url: str | None = None,
) -> CollectionRequest:
    return CollectionRequest(
        reference=ref or reference(),
        amount_minor=amount_minor,
        currency=currency,
        method=PaymentMethod.card,
        customer_email="awa@example.com",
        card_token=token,
        description="Order 42",
        return_url=return_url,
    )


def payout(
    *,
    last_four: str = "0000",
    operator: MobileOperator = MobileOperator.mtn,
    amount_minor: int = XOF_AMOUNT,
) -> PayoutRequest:
    return PayoutRequest(
        reference=reference("pout"),
        amount_minor=amount_minor,
        currency="XOF",
        phone=phone(last_four),
        operator=operator,
        country="CI",
        recipient_name="Kofi Mensah",
        reason="Milestone 1",
    )


async def stripe_card(sandbox: LiveSandbox, number: str) -> str:
    """Tokenise a test card as Stripe.js would, and return its payment method id."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(
            f"{sandbox.url}/stripe/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
            headers={"Authorization": f"Bearer {STRIPE_SECRET}"},
        )
    assert response.status_code == 200, response.text
    pm_id: str = response.json()["id"]
    return pm_id


def stripe_number(last_four: str) -> str:
    return f"400000000000{last_four}"
