"""HTTP shapes of the spend catalogue and of mandates. Amounts are integers in
the currency's minor unit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sika.core.money import MAX_AMOUNT_MINOR
from sika.mandates.states import MandateStatus

MAX_ALLOWED = 50
"""Categories, and merchants, a mandate may name."""

AmountMinor = Annotated[int, Field(gt=0, le=MAX_AMOUNT_MINOR, strict=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SpendCategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    """Unique on the platform: ``school``, ``pharmacy``, ``building_materials``."""
    label_en: Label
    label_fr: Label
    platform_id: ObjectId | None = None
    """For a global operator's key on an installation of several platforms; a platform's key creates under its own."""


class SpendCategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    label_en: str
    label_fr: str
    created_at: datetime


class SpendCategoryPage(BaseModel):
    data: list[SpendCategoryOut]
    next_cursor: str | None


class MerchantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: ObjectId
    """The merchant's party; purchases are paid to its wallet in the mandate's currency."""
    category_id: ObjectId


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    party_id: str
    category_id: str
    certified: bool
    certified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MerchantPage(BaseModel):
    data: list[MerchantOut]
    next_cursor: str | None


class MandateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender_party_id: ObjectId
    """Who pays in, from their wallet in ``currency`` (a party token may only name itself)."""
    beneficiary_party_id: ObjectId
    currency: Currency
    amount_minor: AmountMinor
    """Moved at once from the sender's wallet into the mandate (409 ``insufficient_funds`` otherwise)."""
    allowed_category_ids: Annotated[list[ObjectId], Field(max_length=MAX_ALLOWED)] = Field(default_factory=list)
    allowed_merchant_ids: Annotated[list[ObjectId], Field(max_length=MAX_ALLOWED)] = Field(default_factory=list)
    """A purchase is allowed at a merchant named here or in a category named above."""
    certified_only: bool = True
    """Pay only merchants an operator certified."""
    max_purchase_minor: AmountMinor | None = None
    """No single purchase above this."""
    expires_at: AwareDatetime
    """What is left then goes back to the sender. With its offset: an instant."""


class TopUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor


class PurchaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merchant_id: ObjectId
    amount_minor: AmountMinor
    reference: Reference
    """The merchant's order or invoice number."""


class PayeeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: ObjectId
    """Paid to its wallet in the mandate's currency."""
    daily_limit_minor: AmountMinor | None = None
    """At most this much per day (the platform's time zone)."""
    total_limit_minor: AmountMinor | None = None

    @model_validator(mode="after")
    def _a_limit(self) -> PayeeCreate:
        if self.daily_limit_minor is None and self.total_limit_minor is None:
            raise ValueError("give daily_limit_minor, total_limit_minor or both")
        return self


class SpendCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payee_id: ObjectId
    amount_minor: AmountMinor
    reference: Reference


class PurchaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    mandate_id: str
    merchant_id: str
    amount_minor: int
    """Taken from the mandate; the merchant was paid this less ``fee_minor``."""
    fee_minor: int
    reference: str
    created_at: datetime


class PurchasePage(BaseModel):
    data: list[PurchaseOut]
    next_cursor: str | None


class SpendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    mandate_id: str
    payee_id: str
    amount_minor: int
    fee_minor: int
    reference: str
    day: date
    """The day (platform's time zone) it counts against the payee's daily limit."""
    created_at: datetime


class PayeeOut(BaseModel):
    id: str
    party_id: str
    daily_limit_minor: int | None
    total_limit_minor: int | None
    spent_today_minor: int
    """Today, in the platform's time zone."""
    spent_minor: int
    """In total."""
    created_at: datetime


class MandateOut(BaseModel):
    id: str
    sender_party_id: str
    beneficiary_party_id: str
    currency: str
    funded_minor: int
    spent_minor: int
    returned_minor: int
    remaining_minor: int
    """In the mandate's account now: funded, less spent and returned."""
    status: MandateStatus
    allowed_category_ids: list[str]
    allowed_merchant_ids: list[str]
    certified_only: bool
    max_purchase_minor: int | None
    expires_at: datetime
    payees: list[PayeeOut]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class MandatePage(BaseModel):
    data: list[MandateOut]
    next_cursor: str | None
