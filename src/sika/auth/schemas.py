from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, FutureDatetime

from sika.auth.scopes import Scope
from sika.idempotency.shown_once import ShownOnce


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    expires_at: FutureDatetime | None = None
    """When the key stops working; a moment already past is refused (422 on this field)."""
    platform_id: str | None = Field(default=None, max_length=64)
    """The platform the key acts for. A ``platform`` key always has one (left out, the
    installation's only platform); another key left without one is a global operator's.
    A key bound to a platform creates keys of that platform only."""


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    lookup_prefix: str
    scopes: list[str]
    platform_id: str | None
    """None: an operator of the whole installation."""
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyPage(BaseModel):
    data: list[ApiKeyOut]
    next_cursor: str | None


class ApiKeyCreated(ApiKeyOut):
    secret: Annotated[str, ShownOnce()]
    """The full key. It is shown this once and cannot be recovered: a replay of the
    request with its Idempotency-Key gets the key without it."""
