from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.parties.models import Party

MAX_PAGE_SIZE = 200


async def get(session: AsyncSession, party_id: str) -> Party | None:
    return await session.get(Party, party_id)


async def get_for_update(session: AsyncSession, party_id: str) -> Party | None:
    return await session.get(Party, party_id, with_for_update=True)


async def get_for_share(session: AsyncSession, party_id: str) -> Party | None:
    """The party with a shared row lock: its status cannot change until the
    transaction ends, while other readers holding the same lock go on."""
    return await session.scalar(
        sa.select(Party)
        .where(Party.id == party_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )


async def list_parties(
    session: AsyncSession,
    *,
    status: str | None,
    party_type: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[Party]:
    """Newest first; ``after_seq`` is the cursor (the last ``seq`` seen)."""
    query = sa.select(Party).order_by(Party.seq.desc()).limit(min(limit, MAX_PAGE_SIZE))
    if status is not None:
        query = query.where(Party.status == status)
    if party_type is not None:
        query = query.where(Party.type == party_type)
    if after_seq is not None:
        query = query.where(Party.seq < after_seq)
    return (await session.scalars(query)).all()
