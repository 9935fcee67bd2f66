"""HTTP shapes of allowlists and certifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sika.platforms.schemas import MAX_LEVEL

PartyId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class AllowlistAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_party_id: PartyId


class AllowlistEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    party_id: str
    recipient_party_id: str
    added_by: str
    created_at: datetime


class AllowlistPage(BaseModel):
    data: list[AllowlistEntryOut]
    next_cursor: str | None


class CertificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Annotated[int, Field(ge=0, le=MAX_LEVEL, strict=True)]
    """0 withdraws the certification."""
    reason: Reason


class CertificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    party_id: str
    level: int
    previous_level: int
    reason: str
    certified_by: str
    created_at: datetime


class CertificationPage(BaseModel):
    """The party's decisions, newest first: the first one's level is its level (0 without any)."""

    data: list[CertificationOut]
    next_cursor: str | None
