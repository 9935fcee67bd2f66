from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int
    type: str
    entity_type: str
    entity_id: str
    party_id: str | None
    data: dict[str, Any]
    occurred_at: datetime


class EventPage(BaseModel):
    data: list[EventOut]
    next_cursor: str | None
