"""The alerts table's queries."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts.models import Alert
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
