from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    request_id: str | None
    created_at: datetime


class AuditEventPage(BaseModel):
    data: list[AuditEventOut]
    next_cursor: str | None
