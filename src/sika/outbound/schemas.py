"""HTTP shapes of webhook endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sika.idempotency.shown_once import ShownOnce
from sika.outbound.models import DeliveryStatus

MAX_EVENT_TYPES = 50
EventType = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z_]*\.(\*|[a-z][a-z_]*))$", max_length=100)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    """Where events are posted (https in production, to a public address)."""
    event_types: list[EventType] = Field(default=["*"], min_length=1, max_length=MAX_EVENT_TYPES)
    """``payout.failed``, ``escrow.*`` (every escrow event) or ``*`` (all)."""
    description: Description = ""
    enabled: bool = True
    platform_id: str | None = Field(default=None, max_length=64)
    """The platform whose events it receives; a platform key's own, or named by a global operator."""


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=MAX_EVENT_TYPES)
    description: Description | None = None
    enabled: bool | None = None
    """Enabling an endpoint again delivers what happened while it was disabled, in order."""


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: Annotated[str, ShownOnce()]
    """The ``whsec_…`` signing secret, shown in this answer only: keep it now."""


class EndpointPage(BaseModel):
    data: list[EndpointOut]
    next_cursor: str | None


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    """How long the old secret still signs beside the new one (default OUTBOUND_SECRET_OVERLAP_SECONDS)."""


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    endpoint_id: str
    event_id: str
    """The ``webhook-id`` of each attempt."""
    event_seq: int
    event_type: str
    entity_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since_sequence: int | None = Field(default=None, ge=0, le=2**63 - 1)
    """Events from this ``sequence`` on."""
    since: AwareDatetime | None = None
    """Events from this instant on."""

    @model_validator(mode="after")
    def _one_start(self) -> Replay:
        if (self.since_sequence is None) == (self.since is None):
            raise ValueError("give since_sequence or since, one of them")
        return self


class Replayed(BaseModel):
    deliveries: int
    """How many events will be delivered again (at most 10,000 per call: call again from the next)."""
