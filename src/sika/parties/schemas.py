from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from sika.auth.party_tokens import MIN_LIFETIME_SECONDS
from sika.idempotency.shown_once import ShownOnce


class PartyType(StrEnum):
    individual = "individual"
    business = "business"


class PartyStatus(StrEnum):
    active = "active"
    suspended = "suspended"


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
"""E.164: a plus sign, then 7 to 15 digits, the first not zero."""
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2, upper case."""


CLEARABLE_FIELDS = frozenset({"email", "phone"})


class PartyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName
    type: PartyType
    country: Country
    email: Email | None = None
    phone: Phone | None = None
    platform_id: str | None = Field(default=None, max_length=64)
    """Only for an operator's key bound to no platform, when the installation has several;
    a platform's key creates its own parties."""


class PartyUpdate(BaseModel):
    """Only the fields sent change; ``email`` and ``phone`` may be cleared with null."""

    model_config = ConfigDict(extra="forbid")

    # Absent means unchanged; null is refused, so the document does not offer it (SkipJsonSchema).
    display_name: DisplayName | SkipJsonSchema[None] = None
    type: PartyType | SkipJsonSchema[None] = None
    country: Country | SkipJsonSchema[None] = None
    email: Email | None = None
    phone: Phone | None = None
    status: PartyStatus | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _only_contacts_clear(self) -> PartyUpdate:
        for name in sorted(self.model_fields_set - CLEARABLE_FIELDS):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PartyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    platform_id: str
    display_name: str
    type: PartyType
    email: str | None
    phone: str | None
    country: str
    status: PartyStatus
    created_at: datetime
    updated_at: datetime
    tokens_revoked_before: datetime | None
    """Party tokens issued before this instant are refused."""


class PartyPage(BaseModel):
    data: list[PartyOut]
    next_cursor: str | None


class PartyTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lifetime_seconds: int | None = Field(default=None, ge=MIN_LIFETIME_SECONDS)
    """How long the token lives; at most ``PARTY_TOKEN_MAX_SECONDS`` (the default)."""


class PartyTokenOut(BaseModel):
    token: Annotated[str, ShownOnce()]
    """The bearer token; a replay of the request with its Idempotency-Key gets the answer
    without it (mint another)."""
    token_type: str = "Bearer"
    party_id: str
    token_id: str
    """The token's ``jti``."""
    expires_at: datetime
