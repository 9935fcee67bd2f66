"""The domain events table's queries."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.events.models import Event


async def list_events(
    session: AsyncSession, *, type: str | None, entity_id: str | None, party_id: str | None, page: paging.Page
) -> Sequence[Event]:
    """Newest first, or oldest first as a consumer reads an outbox (as ``page`` says)."""
    query = paging.paged(sa.select(Event), Event.seq, page)
    if type is not None:
        query = query.where(Event.type == type)
    if entity_id is not None:
        query = query.where(Event.entity_id == entity_id)
    if party_id is not None:
        query = query.where(Event.party_id == party_id)
    return (await session.scalars(query)).all()
