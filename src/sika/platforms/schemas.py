from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from sika.core.money import MAX_AMOUNT_MINOR

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MAX_BPS = 10_000
DEFAULT_RELEASE_DELAY_SECONDS = 172_800
"""48 hours: how long after delivery an escrow milestone is released when the client says nothing."""


class P2PPolicy(StrEnum):
    """Who a party may send money to: anyone, its allowlist, or certified parties."""

    open = "open"
    allowlist = "allowlist"
    certified = "certified"


class FeeRule(BaseModel):
    """A platform fee in one currency: a percentage of the amount (basis points,
    rounded down to the minor unit) plus a fixed amount, never above the amount."""

    model_config = ConfigDict(extra="forbid")

    percent_bps: Annotated[int, Field(ge=0, le=MAX_BPS, strict=True)] = 0
    fixed_minor: Annotated[int, Field(ge=0, le=MAX_AMOUNT_MINOR, strict=True)] = 0


class PlatformSettings(BaseModel):
    """What the platform's domains read; every field has a default."""

    model_config = ConfigDict(extra="forbid")

    auto_release_delay_seconds: Annotated[int, Field(ge=0, le=365 * 86_400, strict=True)] = (
        DEFAULT_RELEASE_DELAY_SECONDS
    )
    """Escrow: how long after delivery a milestone is released unless the client disputes."""
    p2p_policy: P2PPolicy = P2PPolicy.open
    """Transfers between parties and captures to another party's wallet."""
    time_zone: str = "UTC"
    """IANA name; the day of daily limits."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Africa/Abidjan")
        return value


class PlatformCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    default_currency: Currency
    fee_policy: dict[Currency, FeeRule] = Field(default_factory=dict, max_length=50)
    settings: PlatformSettings = Field(default_factory=PlatformSettings)


class PlatformUpdate(BaseModel):
    """Only the fields sent change; ``fee_policy`` and ``settings`` are replaced whole."""

    model_config = ConfigDict(extra="forbid")

    # Absent means unchanged; null is refused, so the document does not offer it (SkipJsonSchema).
    name: Name | SkipJsonSchema[None] = None
    default_currency: Currency | SkipJsonSchema[None] = None
    fee_policy: Annotated[dict[Currency, FeeRule], Field(max_length=50)] | SkipJsonSchema[None] = None
    settings: PlatformSettings | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> PlatformUpdate:
        for name in sorted(self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PlatformOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    default_currency: str
    fee_policy: dict[str, FeeRule]
    settings: PlatformSettings
    created_at: datetime
    updated_at: datetime

    @field_validator("settings", mode="before")
    @classmethod
    def _with_defaults(cls, value: Any) -> Any:
        return PlatformSettings.model_validate(value) if isinstance(value, dict) else value


class PlatformPage(BaseModel):
    data: list[PlatformOut]
    next_cursor: str | None
