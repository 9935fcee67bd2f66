"""Emitting and reading domain events. ``emit`` never commits: the event
exists if and only if the change it announces commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, paging
from sika.events import repository
from sika.events.models import Event


async def emit(
    session: AsyncSession,
    *,
    type: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any],
    party_id: str | None = None,
    platform_id: str | None,
    now: datetime,
) -> Event:
    event = Event(
        id=ids.new_id("evt"),
        type=type,
        entity_type=entity_type,
        entity_id=entity_id,
        party_id=party_id,
        platform_id=platform_id,
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
    page: paging.Page = paging.FIRST_PAGE,
) -> Sequence[Event]:
    """Oldest first, as a consumer reads an outbox."""
    return await repository.list_events(session, type=type, entity_id=entity_id, party_id=party_id, page=page)
