from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.auth.key_cache import TokenStanding
from sika.auth.models import ApiKey
from sika.core import paging
from sika.parties.models import Party


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


async def token_standing(session: AsyncSession, *, party_id: str, key_id: str) -> TokenStanding | None:
    """The party and the minting key in one query (both by primary key); None if no such party."""
    row = (
        await session.execute(
            sa.select(
                Party.status,
                Party.platform_id,
                Party.tokens_revoked_before,
                ApiKey.id,
                ApiKey.revoked_at,
                ApiKey.expires_at,
            )
            .select_from(Party)
            .outerjoin(ApiKey, ApiKey.id == key_id)
            .where(Party.id == party_id)
        )
    ).one_or_none()
    if row is None:
        return None
    status, platform_id, revoked_before, found_key, key_revoked_at, key_expires_at = row
    return TokenStanding(
        party_status=status,
        platform_id=platform_id,
        tokens_revoked_before=revoked_before,
        key_found=found_key is not None,
        key_revoked_at=key_revoked_at,
        key_expires_at=key_expires_at,
    )


async def list_parties(
    session: AsyncSession,
    *,
    status: str | None,
    party_type: str | None,
    page: paging.Page,
) -> Sequence[Party]:
    """Newest first."""
    query = paging.paged(sa.select(Party), Party.seq, page)
    if status is not None:
        query = query.where(Party.status == status)
    if party_type is not None:
        query = query.where(Party.type == party_type)
    return (await session.scalars(query)).all()
