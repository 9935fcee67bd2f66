"""Emitting and reading domain events. ``emit`` never commits: the event
exists if and only if the change it announces commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids
from sika.events.models import Event

MAX_PAGE_SIZE = 200


async def emit(
    session: AsyncSession,
    *,
    type: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any],
    party_id: str | None = None,
    now: datetime,
) -> Event:
    event = Event(
        id=ids.new_id("evt"),
        type=type,
        entity_type=entity_type,
        entity_id=entity_id,
        party_id=party_id,
        data=data,
        occurred_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def list_events(
    session: AsyncSession,
    *,
    type: str | None = None,
    entity_id: str | None = None,
    party_id: str | None = None,
    after_seq: int | None = None,
    limit: int = 50,
) -> Sequence[Event]:
    """Oldest first, as a consumer reads an outbox; ``after_seq`` is the cursor."""
    query = sa.select(Event).order_by(Event.seq).limit(min(limit, MAX_PAGE_SIZE))
    if type is not None:
        query = query.where(Event.type == type)
    if entity_id is not None:
        query = query.where(Event.entity_id == entity_id)
    if party_id is not None:
        query = query.where(Event.party_id == party_id)
    if after_seq is not None:
        query = query.where(Event.seq > after_seq)
    return (await session.scalars(query)).all()
