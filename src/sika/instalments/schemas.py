"""Instalment plans, instalments, amounts due, reductions and payments over HTTP."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sika.core import money
from sika.instalments.states import InstalmentStatus, PaymentMethod, PaymentStatus, PlanStatus, ReductionKind
from sika.payments import schemas as payments_schemas

AmountMinor = Annotated[int, Field(gt=0, le=money.MAX_AMOUNT_MINOR, strict=True)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
PromoCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_INSTALMENTS = 120
"""The most instalments one plan has (ten years of monthly ones)."""


class InstalmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_on: date
    amount_minor: AmountMinor


class Schedule(BaseModel):
    """``count`` instalments from ``first_due_on``, every ``interval_days`` days or every
    ``interval_months`` months (a day past a month's end falls on its last day). The total
    is split evenly in minor units; the units left over go to the first instalments."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=1, le=MAX_INSTALMENTS, strict=True)]
    first_due_on: date
    interval_days: Annotated[int, Field(ge=1, le=366, strict=True)] | None = None
    interval_months: Annotated[int, Field(ge=1, le=12, strict=True)] | None = None

    @model_validator(mode="after")
    def _one_interval(self) -> Schedule:
        if (self.interval_days is None) == (self.interval_months is None):
            raise ValueError("give exactly one of interval_days and interval_months")
        return self


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payer_party_id: Id
    payee_party_id: Id | None = None
    """The party paid (into its wallet in the plan's currency); left out, the platform is paid
    (its revenue account)."""
    currency: payments_schemas.Currency
    total_minor: AmountMinor
    instalments: Annotated[list[InstalmentIn], Field(min_length=1, max_length=MAX_INSTALMENTS)] | None = None
    """Explicit instalments (their amounts add up to ``total_minor``), or else ``schedule``."""
    schedule: Schedule | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PlanCreate:
        if (self.instalments is None) == (self.schedule is None):
            raise ValueError("give exactly one of instalments and schedule")
        return self


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    method: PaymentMethod
    status: PaymentStatus
    base_minor: int
    discount_minor: int
    reduction_minor: int
    final_minor: int
    promo_code: str | None
    collection_id: str | None
    transfer_id: str | None
    failure_code: str | None
    created_at: datetime
    settled_at: datetime | None


class InstalmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    plan_id: str
    number: int
    due_on: date
    amount_minor: int
    status: InstalmentStatus
    end_reason: str | None
    paid_at: datetime | None


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    payer_party_id: str
    payer_wallet_id: str
    payee_party_id: str | None
    payee_wallet_id: str | None
    currency: str
    total_minor: int
    status: PlanStatus
    end_reason: str | None
    instalments: list[InstalmentOut]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class PlanPage(BaseModel):
    data: list[PlanOut]
    next_cursor: str | None


class InstalmentDetail(InstalmentOut):
    currency: str
    payments: list[PaymentOut]
    """Every payment started, oldest first: at most one succeeded, at most one pending."""


class Ending(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ReductionCreate(BaseModel):
    """A fixed amount off, or a percent of the base (up to two decimals, rounded half-up
    to the currency's minor unit when the amount due is computed)."""

    model_config = ConfigDict(extra="forbid")

    type: ReductionKind
    amount_minor: AmountMinor | None = None
    percent: Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)] | None = None
    reason: Reason

    @model_validator(mode="after")
    def _value_of_kind(self) -> ReductionCreate:
        fixed = self.type is ReductionKind.fixed
        if fixed != (self.amount_minor is not None) or fixed == (self.percent is not None):
            raise ValueError("a fixed reduction takes amount_minor, a percent one takes percent")
        return self


class ReductionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    instalment_id: str
    type: ReductionKind = Field(validation_alias=AliasChoices("kind", "type"))
    amount_minor: int | None
    percent_bps: int | None
    reason: str
    created_by: str
    created_at: datetime


class AmountDueOut(BaseModel):
    instalment_id: str
    currency: str
    base_minor: int
    promo_code: str | None
    promo_discount_minor: int
    reductions_minor: int
    final_minor: int
    """base − promo discount − reductions, never below 0 nor above the base."""
    rounding: Literal["half_up_minor_unit"] = "half_up_minor_unit"
    """Percents are rounded half-up to the currency's minor unit (its exponent: 0 for XOF, 2 for EUR)."""


class PayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: payments_schemas.Method | None = None
    """Mobile money or card, collected into the payer's wallet and paid on from there once
    it succeeds; left out, the payer's wallet pays at once."""
    promo_code: PromoCode | None = None
    """Checked before the amount is computed; reserved for this instalment with the payment."""
    email: payments_schemas.Email | None = None
    return_url: payments_schemas.Url | None = None

    @model_validator(mode="after")
    def _collection_fields_with_a_method(self) -> PayBody:
        if self.method is None and (self.email is not None or self.return_url is not None):
            raise ValueError("email and return_url go with method: a payment from the wallet takes neither")
        return self


class PayOut(BaseModel):
    instalment: InstalmentDetail
    payment: PaymentOut
    collection: payments_schemas.CollectionOut | None = None
    """With ``method``: the collection started, as the provider's answer left it."""
