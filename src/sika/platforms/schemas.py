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


MAX_LEVEL = 9
"""Certification levels run from 0 (not certified) to this."""
Level = Annotated[int, Field(ge=0, le=MAX_LEVEL, strict=True)]
LevelKey = Annotated[str, StringConstraints(pattern=r"^[0-9]$")]
Minor = Annotated[int, Field(ge=1, le=MAX_AMOUNT_MINOR, strict=True)]
Count = Annotated[int, Field(ge=1, le=10_000, strict=True)]
Minutes = Annotated[int, Field(ge=1, le=43_200, strict=True)]


class P2PLimits(BaseModel):
    """What a sender of one certification level may send to other parties, in
    minor units of the transfer's currency (each currency counted apart); an
    absent limit does not apply. Days are the platform's (``time_zone``)."""

    model_config = ConfigDict(extra="forbid")

    per_transfer_minor: Minor | None = None
    per_day_minor: Minor | None = None
    per_30_days_minor: Minor | None = None


class NewRecipientRule(BaseModel):
    """A first transfer to a recipient above ``above_minor``."""

    model_config = ConfigDict(extra="forbid")

    above_minor: Minor
    block: bool = False


class BurstRule(BaseModel):
    """``count`` transfers or more by one sender within ``minutes`` (this one included)."""

    model_config = ConfigDict(extra="forbid")

    count: Count
    minutes: Minutes
    block: bool = False


class LargeAmountRule(BaseModel):
    """An amount above ``factor`` times the sender's average, once it has ``min_history`` transfers."""

    model_config = ConfigDict(extra="forbid")

    factor: Annotated[int, Field(ge=2, le=1_000, strict=True, examples=[5])]
    min_history: Count = 3
    block: bool = False


class ManyRecipientsRule(BaseModel):
    """``recipients`` distinct recipients or more by one sender in a day (this one included)."""

    model_config = ConfigDict(extra="forbid")

    recipients: Count
    block: bool = False


class AfterCertificationRule(BaseModel):
    """A transfer within ``minutes`` of a change to the sender's or the recipient's certification."""

    model_config = ConfigDict(extra="forbid")

    minutes: Minutes
    block: bool = False


class FraudRules(BaseModel):
    """Each rule raises an alert (``p2p.fraud.<rule>``) when it matches, and
    refuses the transfer when its ``block`` says so; an absent rule is off."""

    model_config = ConfigDict(extra="forbid")

    new_recipient: NewRecipientRule | None = None
    burst: BurstRule | None = None
    large_amount: LargeAmountRule | None = None
    many_recipients: ManyRecipientsRule | None = None
    after_certification: AfterCertificationRule | None = None


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
    p2p_certified_level: Annotated[int, Field(ge=1, le=MAX_LEVEL, strict=True)] = 1
    """With ``p2p_policy`` ``certified``: the level a recipient must be certified at, at least."""
    p2p_limits: Annotated[dict[LevelKey, P2PLimits], Field(max_length=MAX_LEVEL + 1)] = Field(default_factory=dict)
    """Per certification level of the sender ("0" to "9"): a sender has the limits of
    the highest level listed at or below its own, none if no level is."""
    p2p_allowlist_self_service: bool = False
    """Whether a party's own token may add and remove the recipients of its allowlist."""
    fraud_rules: FraudRules = Field(default_factory=FraudRules)
    """Transfers and captures to another party are checked against them."""
    instalment_reductions_by_platform: bool = False
    """Whether the platform's own key may grant manual reductions on instalments (support
    and admin always may)."""

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
