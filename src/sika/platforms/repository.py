from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.platforms.models import Platform


async def add(session: AsyncSession, platform: Platform) -> None:
    session.add(platform)
    await session.flush()


async def get(session: AsyncSession, platform_id: str) -> Platform | None:
    return await session.get(Platform, platform_id)


async def get_for_update(session: AsyncSession, platform_id: str) -> Platform | None:
    return await session.get(Platform, platform_id, with_for_update=True)


async def only_one(session: AsyncSession) -> Platform | None:
    """The installation's platform when it has exactly one (as it has after an upgrade)."""
    rows = (await session.scalars(sa.select(Platform).order_by(Platform.seq).limit(2))).all()
    return rows[0] if len(rows) == 1 else None


async def list_platforms(session: AsyncSession, *, page: paging.Page) -> Sequence[Platform]:
    """Newest first."""
    return (await session.scalars(paging.paged(sa.select(Platform), Platform.seq, page))).all()
