"""The alerts table's queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts.models import Alert, AlertNotice
from sika.core import paging


async def get_for_update(session: AsyncSession, alert_id: str) -> Alert | None:
    return await session.get(Alert, alert_id, with_for_update=True)


async def has_open(session: AsyncSession, *, kind: str, entity_id: str) -> bool:
    found = await session.scalar(
        sa.select(Alert.id)
        .where(Alert.kind == kind, Alert.entity_id == entity_id, Alert.acknowledged_at.is_(None))
        .limit(1)
    )
    return found is not None


async def open_about(
    session: AsyncSession, *, entity_type: str, entity_id: str, for_update: bool = False
) -> Sequence[Alert]:
    """The open alerts about one object, oldest first (locked ``for_update``)."""
    query = (
        sa.select(Alert)
        .where(Alert.entity_type == entity_type, Alert.entity_id == entity_id, Alert.acknowledged_at.is_(None))
        .order_by(Alert.seq)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).all()


async def count_open(session: AsyncSession) -> int:
    count = await session.scalar(sa.select(sa.func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None)))
    return int(count or 0)


async def list_alerts(
    session: AsyncSession, *, kind: str | None, is_open: bool | None, page: paging.Page
) -> Sequence[Alert]:
    """Newest first; ``is_open`` None lists acknowledged and open alike."""
    query = paging.paged(sa.select(Alert), Alert.seq, page)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if is_open is True:
        query = query.where(Alert.acknowledged_at.is_(None))
    elif is_open is False:
        query = query.where(Alert.acknowledged_at.is_not(None))
    return (await session.scalars(query)).all()


async def critical_not_noticed(session: AsyncSession, *, since: datetime, limit: int) -> Sequence[Alert]:
    """Critical alerts raised since ``since`` that no notice has considered yet, oldest first."""
    noticed = sa.exists().where(AlertNotice.alert_id == Alert.id)
    query = (
        sa.select(Alert)
        .where(Alert.severity == "critical", Alert.created_at >= since, ~noticed)
        .order_by(Alert.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def sent_since(session: AsyncSession, *, key: str, since: datetime) -> bool:
    found = await session.scalar(
        sa.select(AlertNotice.id).where(AlertNotice.key == key, AlertNotice.sent, AlertNotice.sent_at >= since).limit(1)
    )
    return found is not None


async def lock_notices(session: AsyncSession) -> bool:
    """Whether this transaction is the one deciding notices now (one at a time, across processes)."""
    return bool(await session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('sika.alert_notices'))")))


async def jobs_waiting(session: AsyncSession, *, now: datetime) -> int:
    count = await session.scalar(
        sa.text(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"
            " AND (scheduled_at IS NULL OR scheduled_at <= :now)"
        ),
        {"now": now},
    )
    return int(count or 0)


async def last_worker_heartbeat(session: AsyncSession) -> datetime | None:
    beat: datetime | None = await session.scalar(sa.text("SELECT max(last_heartbeat) FROM procrastinate_workers"))
    return beat
