from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.payments.models import Collection, Payout

MAX_PAGE_SIZE = 200
OPEN_COLLECTION_STATUSES = ("initiated", "action_required", "processing")
OPEN_PAYOUT_STATUSES = ("initiated", "processing")


async def insert_collection(session: AsyncSession, collection: Collection) -> bool:
    """Insert, unless this creator's Idempotency-Key already made one; True when inserted."""
    values = {c.key: getattr(collection, c.key) for c in Collection.__table__.columns if c.key != "seq"}
    inserted = await session.scalar(
        insert(Collection)
        .values(values)
        .on_conflict_do_nothing(constraint="uq_payments_collections_idempotency")
        .returning(Collection.id)
    )
    return inserted is not None


async def insert_payout(session: AsyncSession, payout: Payout) -> bool:
    values = {c.key: getattr(payout, c.key) for c in Payout.__table__.columns if c.key != "seq"}
    inserted = await session.scalar(
        insert(Payout)
        .values(values)
        .on_conflict_do_nothing(constraint="uq_payments_payouts_idempotency")
        .returning(Payout.id)
    )
    return inserted is not None


async def get_collection(session: AsyncSession, collection_id: str) -> Collection | None:
    return await session.get(Collection, collection_id, populate_existing=True)


async def get_collection_for_update(session: AsyncSession, collection_id: str) -> Collection | None:
    return await session.get(Collection, collection_id, with_for_update=True, populate_existing=True)


async def get_payout(session: AsyncSession, payout_id: str) -> Payout | None:
    return await session.get(Payout, payout_id, populate_existing=True)


async def get_payout_for_update(session: AsyncSession, payout_id: str) -> Payout | None:
    return await session.get(Payout, payout_id, with_for_update=True, populate_existing=True)


async def list_collections(
    session: AsyncSession,
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: str | None,
    idempotency_key: str | None,
    created_by: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[Collection]:
    """Newest first; ``after_seq`` is the cursor (the last ``seq`` seen)."""
    query = sa.select(Collection).order_by(Collection.seq.desc()).limit(min(limit, MAX_PAGE_SIZE))
    if party_id is not None:
        query = query.where(Collection.party_id == party_id)
    if wallet_id is not None:
        query = query.where(Collection.wallet_id == wallet_id)
    if status is not None:
        query = query.where(Collection.status == status)
    if idempotency_key is not None:
        query = query.where(Collection.idempotency_key == idempotency_key, Collection.created_by == created_by)
    if after_seq is not None:
        query = query.where(Collection.seq < after_seq)
    return (await session.scalars(query)).all()


async def list_payouts(
    session: AsyncSession,
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: str | None,
    idempotency_key: str | None,
    created_by: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[Payout]:
    query = sa.select(Payout).order_by(Payout.seq.desc()).limit(min(limit, MAX_PAGE_SIZE))
    if party_id is not None:
        query = query.where(Payout.party_id == party_id)
    if wallet_id is not None:
        query = query.where(Payout.wallet_id == wallet_id)
    if status is not None:
        query = query.where(Payout.status == status)
    if idempotency_key is not None:
        query = query.where(Payout.idempotency_key == idempotency_key, Payout.created_by == created_by)
    if after_seq is not None:
        query = query.where(Payout.seq < after_seq)
    return (await session.scalars(query)).all()


async def collections_due_for_check(session: AsyncSession, *, older_than: datetime, limit: int) -> Sequence[str]:
    """Open collections created before ``older_than`` and not checked since, least recently checked first."""
    query = (
        sa.select(Collection.id)
        .where(
            Collection.status.in_(OPEN_COLLECTION_STATUSES),
            Collection.created_at <= older_than,
            sa.or_(Collection.last_checked_at.is_(None), Collection.last_checked_at <= older_than),
        )
        .order_by(Collection.last_checked_at.asc().nulls_first(), Collection.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def payouts_due_for_check(session: AsyncSession, *, older_than: datetime, limit: int) -> Sequence[str]:
    query = (
        sa.select(Payout.id)
        .where(
            Payout.status.in_(OPEN_PAYOUT_STATUSES),
            Payout.created_at <= older_than,
            sa.or_(Payout.last_checked_at.is_(None), Payout.last_checked_at <= older_than),
        )
        .order_by(Payout.last_checked_at.asc().nulls_first(), Payout.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def mark_collection_checked(session: AsyncSession, collection_id: str, *, now: datetime) -> None:
    await session.execute(sa.update(Collection).where(Collection.id == collection_id).values(last_checked_at=now))


async def mark_payout_checked(session: AsyncSession, payout_id: str, *, now: datetime) -> None:
    await session.execute(sa.update(Payout).where(Payout.id == payout_id).values(last_checked_at=now))
