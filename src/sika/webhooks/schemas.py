from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class EventStatus(StrEnum):
    received = "received"
    processed = "processed"
    ignored = "ignored"
    unmatched = "unmatched"
    rejected = "rejected"
    failed = "failed"


class WebhookAck(BaseModel):
    """What a provider is answered: 200 as soon as the event is stored (a duplicate too)."""

    received: bool
    duplicate: bool


class InboundEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    provider: str
    event_id: str
    event_type: str
    status: EventStatus
    subject: str | None
    reference: str | None
    outcome: str | None
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None


class InboundEventPage(BaseModel):
    data: list[InboundEventOut]
    next_cursor: str | None
