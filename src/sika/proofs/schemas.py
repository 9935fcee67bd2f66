"""HTTP shapes of proof rules and proofs of delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sika.proofs.states import Decision, ProofStatus

MAX_RADIUS_M = 100_000
MAX_AGE_SECONDS = 365 * 86_400

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class Geofence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    radius_m: Annotated[int, Field(gt=0, le=MAX_RADIUS_M, strict=True)]
    """A photo taken farther than this from the point (haversine distance) fails its place check."""


class ProofRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: bool = False
    """When true, a delivered milestone is not released when the client stays silent until a
    proof is approved (the client may still approve it, or dispute it)."""
    geofence: Geofence | None = None
    max_age_seconds: Annotated[int, Field(gt=0, le=MAX_AGE_SECONDS, strict=True)] | None = None
    """A photo taken longer than this before the milestone's delivery fails its time check."""
    auto_approve: bool | None = None
    """A proof that passes every check is approved and the milestone released on its own;
    by default true when a geofence is set (and only then may it be true)."""

    @model_validator(mode="after")
    def _auto_approve_needs_a_geofence(self) -> ProofRuleIn:
        if self.auto_approve and self.geofence is None:
            raise ValueError("auto_approve needs a geofence: without one, any photo would release the milestone")
        return self


class ProofRuleOut(BaseModel):
    escrow_id: str
    number: int
    required: bool
    geofence: Geofence | None
    max_age_seconds: int | None
    auto_approve: bool
    created_at: datetime
    updated_at: datetime


class Check(BaseModel):
    check: str
    """``image``, ``unique``, ``geofence`` or ``photo_time``."""
    passed: bool
    detail: str


class Location(BaseModel):
    latitude: float
    longitude: float
    altitude_m: float | None


class ProofOut(BaseModel):
    id: str
    escrow_id: str
    milestone_number: int
    status: ProofStatus
    sha256: str
    content_type: str
    """Read from the bytes: ``image/jpeg``, ``image/png`` or ``image/heic``."""
    size_bytes: int
    width: int
    height: int
    filename: str
    checks: list[Check]
    reasons: list[str]
    """Why it waits for an operator: ``no_gps``, ``outside_geofence``, ``no_photo_time``,
    ``photo_too_old``, ``photo_in_future``, ``auto_approve_off``."""
    taken_at: datetime | None
    distance_m: float | None
    """From the photo's GPS position to the geofence's point."""
    location: Location | None
    """Where the photo was taken; only for the escrow's parties, the platform and operators."""
    exif: dict[str, Any] | None
    """What the photo's EXIF says (camera, time, GPS); only for those who see ``location``."""
    released: bool
    """Its approval released the milestone."""
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    created_at: datetime


class ProofPage(BaseModel):
    data: list[ProofOut]
    next_cursor: str | None


class ProofsSubmitted(BaseModel):
    data: list[ProofOut]
    """One proof per file, in the order they were sent."""


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: Text
