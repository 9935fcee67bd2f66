"""The API keys table's queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.auth.key_cache import CHANNEL
from sika.auth.models import ApiKey


async def get_by_lookup_prefix(session: AsyncSession, lookup_prefix: str) -> ApiKey | None:
    return await session.scalar(sa.select(ApiKey).where(ApiKey.lookup_prefix == lookup_prefix))


async def get_current(session: AsyncSession, key_id: str) -> ApiKey | None:
    """The key as stored now, even if this session loaded it before."""
    return await session.get(ApiKey, key_id, populate_existing=True)


async def get_for_update(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id, with_for_update=True)


async def mark_used(session: AsyncSession, *, key_id: str, now: datetime, unless_used_since: datetime) -> None:
    """Set ``last_used_at`` to ``now`` unless it is already ``unless_used_since`` or later
    (a concurrent request may have set it), or another transaction is writing the row.

    The write runs in the request's transaction, which holds the row until it ends: once
    a minute, every request of a busy key in flight at that moment found the old value and
    queued behind the first one's whole request for the row. Skipping a locked row loses
    nothing, since its holder is recording the same use."""
    stale = (
        sa.select(ApiKey.id)
        .where(ApiKey.id == key_id)
        .where(sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < unless_used_since))
        .with_for_update(skip_locked=True)
    )
    await session.execute(sa.update(ApiKey).where(ApiKey.id.in_(stale.scalar_subquery())).values(last_used_at=now))


async def announce(session: AsyncSession, payload: str) -> None:
    """Tell every API process, once this transaction commits, what to forget (``key_cache``)."""
    await session.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


async def list_keys(
    session: AsyncSession,
    *,
    include_revoked: bool,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> Sequence[ApiKey]:
    """Newest first (by creation, then id); ``after`` is the creation time and id of the last key seen."""
    query = sa.select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).limit(limit)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    if after is not None:
        query = query.where(sa.tuple_(ApiKey.created_at, ApiKey.id) < sa.tuple_(*after))
    return (await session.scalars(query)).all()


async def any_live_key_with_scope(session: AsyncSession, *, scope: str, now: datetime) -> bool:
    """Whether a key neither revoked nor expired at ``now`` holds ``scope``."""
    live = sa.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
    query = sa.select(
        sa.exists().where(ApiKey.revoked_at.is_(None), live, sa.literal(scope) == sa.func.any(ApiKey.scopes))
    )
    return bool(await session.scalar(query))
