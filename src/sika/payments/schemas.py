"""The API's shapes of collections and payouts: what a request sends, what an
answer (and the event announcing a state change) shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sika.core import money
from sika.payments.models import Collection, Payout
from sika.payments.states import CollectionStatus, PayoutStatus
from sika.providers import base as provider_base

Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
"""E.164: a plus sign, then 7 to 15 digits, the first not zero."""
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2000, pattern=r"^https?://\S+$")]
AmountMinor = Annotated[int, Field(gt=0, le=money.MAX_AMOUNT_MINOR, strict=True)]
"""In the currency's minor unit (XOF: francs, EUR: cents); never a float."""
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class MobileMoney(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["mobile_money"]
    operator: provider_base.MobileOperator
    phone: Phone
    country: Country | None = None
    """Where the mobile-money account lives; the party's country when left out."""


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["card"]
    card_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    """A card tokenised by the provider's client library (Stripe ``pm_…``); never a card number."""


Method = Annotated[MobileMoney | Card, Field(discriminator="type")]


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: Id | None = None
    """Who pays; the wallet's party when left out. Given, it must be the wallet's party."""
    wallet_id: Id
    """The wallet credited on success."""
    amount_minor: AmountMinor
    currency: Currency
    method: Method
    email: Email | None = None
    """The customer's email for the provider; the party's when left out."""
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    return_url: Url | None = None
    """Where a redirect flow (Wave, 3-D Secure) sends the customer back."""


class OtpSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    otp: Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$")]


class NextActionOut(BaseModel):
    type: provider_base.NextAction
    display_text: str | None
    redirect_url: str | None


class Failure(BaseModel):
    code: str
    message: str | None


class CollectionOut(BaseModel):
    id: str
    party_id: str
    wallet_id: str
    amount_minor: int
    currency: str
    method: str
    operator: str | None
    phone: str | None
    country: str
    description: str
    status: CollectionStatus
    provider: str | None
    provider_reference: str | None
    next_action: NextActionOut | None
    failure: Failure | None
    reported_amount_minor: int | None
    reported_currency: str | None
    credit_transfer_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class CollectionPage(BaseModel):
    data: list[CollectionOut]
    next_cursor: str | None


class PayoutDestination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["mobile_money"] = "mobile_money"
    operator: provider_base.MobileOperator
    phone: Phone
    country: Country | None = None
    """Where the mobile-money account lives; the party's country when left out."""


class PayoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: Id
    wallet_id: Id
    """The wallet debited; it must be this party's."""
    amount_minor: AmountMinor
    currency: Currency
    destination: PayoutDestination
    recipient_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class PayoutOut(BaseModel):
    id: str
    party_id: str
    wallet_id: str
    amount_minor: int
    currency: str
    operator: str
    phone: str
    country: str
    recipient_name: str
    reason: str
    status: PayoutStatus
    provider: str
    provider_reference: str | None
    hold_id: str
    reversal_transfer_id: str | None
    failure: Failure | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class PayoutPage(BaseModel):
    data: list[PayoutOut]
    next_cursor: str | None


def collection_out(collection: Collection) -> CollectionOut:
    next_action = None
    if collection.next_action is not None:
        next_action = NextActionOut(
            type=provider_base.NextAction(collection.next_action),
            display_text=collection.display_text,
            redirect_url=collection.redirect_url,
        )
    failure = None
    if collection.failure_code is not None:
        failure = Failure(code=collection.failure_code, message=collection.failure_message)
    return CollectionOut(
        id=collection.id,
        party_id=collection.party_id,
        wallet_id=collection.wallet_id,
        amount_minor=collection.amount_minor,
        currency=collection.currency,
        method=collection.method,
        operator=collection.operator,
        phone=collection.phone,
        country=collection.country,
        description=collection.description,
        status=CollectionStatus(collection.status),
        provider=collection.provider,
        provider_reference=collection.provider_reference,
        next_action=next_action,
        failure=failure,
        reported_amount_minor=collection.reported_amount_minor,
        reported_currency=collection.reported_currency,
        credit_transfer_id=collection.credit_transfer_id,
        created_at=collection.created_at,
        updated_at=collection.updated_at,
        completed_at=collection.completed_at,
    )


def payout_out(payout: Payout) -> PayoutOut:
    failure = None
    if payout.failure_code is not None:
        failure = Failure(code=payout.failure_code, message=payout.failure_message)
    return PayoutOut(
        id=payout.id,
        party_id=payout.party_id,
        wallet_id=payout.wallet_id,
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        operator=payout.operator,
        phone=payout.phone,
        country=payout.country,
        recipient_name=payout.recipient_name,
        reason=payout.reason,
        status=PayoutStatus(payout.status),
        provider=payout.provider,
        provider_reference=payout.provider_reference,
        hold_id=payout.hold_id,
        reversal_transfer_id=payout.reversal_transfer_id,
        failure=failure,
        created_at=payout.created_at,
        updated_at=payout.updated_at,
        completed_at=payout.completed_at,
    )
