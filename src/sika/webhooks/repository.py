from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import db, paging
from sika.webhooks.models import InboundEvent

_EVENTS: sa.Table = InboundEvent.__table__  # type: ignore[assignment]
_STORED = [column.key for column in _EVENTS.columns if column.key != "seq"]
# Built from the table's own column names: no caller-supplied text reaches the statement.
_INSERT_IF_NEW = (
    f"INSERT INTO {_EVENTS.name} ({', '.join(_STORED)}) VALUES ({', '.join(f'%({key})s' for key in _STORED)})"  # noqa: S608
    " ON CONFLICT ON CONSTRAINT uq_webhooks_inbound_events_provider_event DO NOTHING RETURNING id"
)


async def insert_if_new(session: AsyncSession, event: InboundEvent) -> bool:
    """Store the event unless (provider, event id) is already stored; True when stored now.

    A concurrent insert of the same event waits on the unique index until the
    first commits, then inserts nothing. The intake's one write per webhook goes
    straight to the driver (``db.execute_plain``)."""
    cursor = await db.execute_plain(session, _INSERT_IF_NEW, {key: getattr(event, key) for key in _STORED})
    return await cursor.fetchone() is not None


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
