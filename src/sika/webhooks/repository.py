from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import db, paging
from sika.jobs import app as jobs_app
from sika.webhooks.models import InboundEvent

_EVENTS: sa.Table = InboundEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A webhook as the intake stores it: the row's values, with no ORM object on the hot path
    (its platform, outcome and attempts are the table's defaults until it is processed)."""

    id: str
    provider: str
    event_id: str
    event_type: str
    body: bytes
    status: str
    subject: str | None
    reference: str | None
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None


_STORED = [field.name for field in dataclasses.fields(NewEvent)]
# Built from the table's and the fields' own names: no caller-supplied text reaches the statement.
_INSERT_IF_NEW = (
    f"INSERT INTO {_EVENTS.name} ({', '.join(_STORED)}) VALUES ({', '.join(f'%({key})s' for key in _STORED)})"  # noqa: S608
    " ON CONFLICT ON CONSTRAINT uq_webhooks_inbound_events_provider_event DO NOTHING RETURNING id"
)
# The job is deferred once per row the insert returns: none for a duplicate. Public, with
# stored_values, for bench/http_floor.py, which stores webhooks as the intake does.
INSERT_IF_NEW_THEN_DEFER = f"WITH stored AS ({_INSERT_IF_NEW}) SELECT {jobs_app.DEFER_ONE} FROM stored"  # noqa: S608


def stored_values(event: NewEvent) -> dict[str, Any]:
    """The insert's parameters for ``event``."""
    return {key: getattr(event, key) for key in _STORED}


async def insert_if_new(session: AsyncSession, event: NewEvent, *, then_defer: dict[str, Any] | None) -> bool:
    """Store the event unless (provider, event id) is already stored; True when stored now.
    ``then_defer`` (``jobs_app.to_defer``'s values) is the job deferred with it, in the same
    statement, only when it is stored now.

    A concurrent insert of the same event waits on the unique index until the
    first commits, then inserts nothing and defers nothing. The intake's one
    statement per webhook goes straight to the driver (``db.execute_plain``)."""
    params = stored_values(event)
    if then_defer is None:
        cursor = await db.execute_plain(session, _INSERT_IF_NEW, params)
    else:
        cursor = await db.execute_plain(session, INSERT_IF_NEW_THEN_DEFER, params | then_defer)
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
