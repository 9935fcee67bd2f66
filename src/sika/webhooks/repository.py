from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.webhooks.models import InboundEvent


async def insert_if_new(session: AsyncSession, event: InboundEvent) -> bool:
    """Store the event unless (provider, event id) is already stored; True when stored now.

    A concurrent insert of the same event waits on the unique index until the
    first commits, then inserts nothing. A Core statement on the table: the
    intake's one write per webhook skips the ORM's bulk-insert machinery."""
    table: sa.Table = InboundEvent.__table__  # type: ignore[assignment]
    values = {c.key: getattr(event, c.key) for c in table.columns if c.key != "seq"}
    inserted = await session.scalar(
        insert(table)
        .values(values)
        .on_conflict_do_nothing(constraint="uq_webhooks_inbound_events_provider_event")
        .returning(table.c.id)
    )
    return inserted is not None


async def get(session: AsyncSession, event_id: str) -> InboundEvent | None:
    return await session.get(InboundEvent, event_id, populate_existing=True)


async def get_for_update(session: AsyncSession, event_id: str) -> InboundEvent | None:
    return await session.get(InboundEvent, event_id, with_for_update=True, populate_existing=True)


async def list_events(
    session: AsyncSession,
    *,
    provider: str | None,
    status: str | None,
    reference: str | None,
    page: paging.Page,
) -> Sequence[InboundEvent]:
    """Newest first."""
    query = paging.paged(sa.select(InboundEvent), InboundEvent.seq, page)
    if provider is not None:
        query = query.where(InboundEvent.provider == provider)
    if status is not None:
        query = query.where(InboundEvent.status == status)
    if reference is not None:
        query = query.where(InboundEvent.reference == reference)
    return (await session.scalars(query)).all()


async def id_of(session: AsyncSession, *, provider: str, event_id: str) -> str:
    stored = await session.scalar(
        sa.select(InboundEvent.id).where(InboundEvent.provider == provider, InboundEvent.event_id == event_id)
    )
    assert stored is not None, "the conflicting row is committed, so it is visible"
    return stored


@dataclass(frozen=True)
class StatusCount:
    provider: str
    status: str
    count: int
    oldest_received_at: datetime


async def count_by_provider_and_status(session: AsyncSession) -> list[StatusCount]:
    """How many events each provider has in each status, with the oldest one's arrival."""
    rows = await session.execute(
        sa.select(InboundEvent.provider, InboundEvent.status, sa.func.count(), sa.func.min(InboundEvent.received_at))
        .group_by(InboundEvent.provider, InboundEvent.status)
        .order_by(InboundEvent.provider, InboundEvent.status)
    )
    return [
        StatusCount(provider=provider, status=status, count=int(count), oldest_received_at=oldest)
        for provider, status, count, oldest in rows
    ]
