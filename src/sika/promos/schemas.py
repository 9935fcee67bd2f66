"""HTTP shapes of promo codes. Amounts are integers in the currency's minor unit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sika.core.money import MAX_AMOUNT_MINOR

MAX_PLANS = 100
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
PlanId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Maximum = Annotated[int, Field(gt=0, le=2_000_000_000, strict=True)]


class PromoCodeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    """Letters, digits, ``-`` and ``_``; matched whatever its case, unique per platform in any case."""
    percent_off_bps: Annotated[int, Field(ge=1, le=10_000, strict=True)] | None = None
    """Basis points off (1,000 = 10 %); rounded half-up to the currency's minor unit. Or ``amount_off_minor``."""
    amount_off_minor: Annotated[int, Field(gt=0, le=MAX_AMOUNT_MINOR, strict=True)] | None = None
    """An amount off, in ``currency`` (required with it). Or ``percent_off_bps``."""
    currency: Currency | None = None
    """The only currency the code applies to (optional for a percent off)."""
    starts_at: AwareDatetime | None = None
    """Valid from this instant (now when left out)."""
    expires_at: AwareDatetime | None = None
    """Invalid from this instant on (never when left out)."""
    active: bool = True
    max_redemptions: Maximum | None = None
    """Uses in total, reserved or confirmed (no limit when left out)."""
    max_redemptions_per_party: Maximum | None = None
    plan_ids: Annotated[list[PlanId], Field(min_length=1, max_length=MAX_PLANS)] | None = None
    """Restrict the code to these instalment plans (any plan when left out)."""
    platform_id: str | None = None
    """The platform the code belongs to: an admin key names it; a platform key's own by default."""

    @model_validator(mode="after")
    def _one_discount(self) -> Self:
        if (self.percent_off_bps is None) == (self.amount_off_minor is None):
            raise ValueError("give percent_off_bps or amount_off_minor, not both")
        if self.amount_off_minor is not None and self.currency is None:
            raise ValueError("amount_off_minor needs its currency")
        if self.starts_at is not None and self.expires_at is not None and self.expires_at <= self.starts_at:
            raise ValueError("expires_at must come after starts_at")
        return self


class PromoCodeOut(BaseModel):
    id: str
    seq: int
    platform_id: str
    code: str
    percent_off_bps: int | None
    amount_off_minor: int | None
    currency: str | None
    starts_at: datetime
    expires_at: datetime | None
    active: bool
    max_redemptions: int | None
    max_redemptions_per_party: int | None
    plan_ids: list[str] | None
    uses: int
    """Redemptions reserved or confirmed."""
    created_at: datetime
    deactivated_at: datetime | None


class PromoCodePage(BaseModel):
    data: list[PromoCodeOut]
    next_cursor: str | None
