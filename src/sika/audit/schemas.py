from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

REASON_MAX_CHARACTERS = 500
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX_CHARACTERS)]
"""Why an operator acts on an object, in their own words: kept in the action's audit row (``data.reason``)."""


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


class ActionReason(BaseModel):
    """The body of an operator action (re-run reconciliation, re-queue, re-process, acknowledge)."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why you act: kept in the action's audit row, for whoever reads it later.")
