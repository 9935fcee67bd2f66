from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sika.core import money
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

    party_id: Id
    """Who pays; the wallet must be this party's."""
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
