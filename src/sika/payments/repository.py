"""Queries on collections and payouts. The two tables keep the same shape where
their rules are the same (owner, wallet, status, idempotency key, the open
ones reconciliation checks), so each query here serves both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sika.payments.models import Collection, Payout
from sika.payments.states import COLLECTION_STATES, PAYOUT_STATES

MAX_PAGE_SIZE = 200
OPEN_STATUSES: dict[type[Collection] | type[Payout], tuple[str, ...]] = {
    Collection: tuple(state.value for state in COLLECTION_STATES.open),
    Payout: tuple(state.value for state in PAYOUT_STATES.open),
}
"""What reconciliation still has to finish."""
_IDEMPOTENCY_CONSTRAINTS: dict[type[Collection] | type[Payout], str] = {
    Collection: "uq_payments_collections_idempotency",
    Payout: "uq_payments_payouts_idempotency",
}

Row = TypeVar("Row", Collection, Payout)


async def insert_if_key_unused(session: AsyncSession, row: Row) -> bool:
    """Insert, unless this creator's Idempotency-Key already made one; True when inserted."""
    model = type(row)
    values = {c.key: getattr(row, c.key) for c in model.__table__.columns if c.key != "seq"}
    inserted = await session.scalar(
        insert(model)
        .values(values)
        .on_conflict_do_nothing(constraint=_IDEMPOTENCY_CONSTRAINTS[model])
        .returning(model.id)
    )
    return inserted is not None


async def flush(session: AsyncSession) -> None:
    """Write the changes made to loaded rows now, in the caller's transaction
    (before an event shows the row, or when news changed only what it taught)."""
    await session.flush()


async def get(session: AsyncSession, model: type[Row], row_id: str) -> Row | None:
    return await session.get(model, row_id, populate_existing=True)


async def get_for_update(session: AsyncSession, model: type[Row], row_id: str) -> Row | None:
    return await session.get(model, row_id, with_for_update=True, populate_existing=True)


async def list_rows(
    session: AsyncSession,
    model: type[Row],
    *,
    party_id: str | None,
    wallet_id: str | None,
    status: str | None,
    idempotency_key: str | None,
    created_by: str | None,
    after_seq: int | None,
    limit: int,
) -> Sequence[Row]:
    """Newest first; ``after_seq`` is the cursor (the last ``seq`` seen)."""
    query = sa.select(model).order_by(model.seq.desc()).limit(min(limit, MAX_PAGE_SIZE))
    if party_id is not None:
        query = query.where(model.party_id == party_id)
    if wallet_id is not None:
        query = query.where(model.wallet_id == wallet_id)
    if status is not None:
        query = query.where(model.status == status)
    if idempotency_key is not None:
        query = query.where(model.idempotency_key == idempotency_key, model.created_by == created_by)
    if after_seq is not None:
        query = query.where(model.seq < after_seq)
    return (await session.scalars(query)).all()


async def due_for_check(
    session: AsyncSession,
    model: type[Row],
    *,
    older_than: datetime,
    moved_after: datetime | None,
    limit: int,
) -> Sequence[str]:
    """Ids of the open rows created before ``older_than`` and not checked since,
    least recently checked first; with ``moved_after``, only those that moved
    (or were re-queued) after it: the others were given up."""
    query = (
        sa.select(model.id)
        .where(
            model.status.in_(OPEN_STATUSES[model]),
            model.created_at <= older_than,
            sa.or_(model.last_checked_at.is_(None), model.last_checked_at <= older_than),
        )
        .order_by(model.last_checked_at.asc().nulls_first(), model.seq)
        .limit(limit)
    )
    if moved_after is not None:
        query = query.where(model.updated_at > moved_after)
    return (await session.scalars(query)).all()


async def newly_given_up(
    session: AsyncSession, model: type[Row], *, give_up_after: timedelta, now: datetime, limit: int
) -> Sequence[tuple[str, str]]:
    """Ids and platforms of the open rows that have not moved for ``give_up_after`` and
    were not checked since that age was reached: each is given up once."""
    query = (
        sa.select(model.id, model.platform_id)
        .where(
            model.status.in_(OPEN_STATUSES[model]),
            model.updated_at <= now - give_up_after,
            sa.or_(model.last_checked_at.is_(None), model.last_checked_at < model.updated_at + give_up_after),
        )
        .order_by(model.updated_at, model.seq)
        .limit(limit)
    )
    return [(row_id, platform_id) for row_id, platform_id in (await session.execute(query)).all()]


async def mark_checked(session: AsyncSession, model: type[Row], row_id: str, *, now: datetime) -> None:
    await session.execute(sa.update(model).where(model.id == row_id).values(last_checked_at=now))


async def requeue(session: AsyncSession, model: type[Row], row_id: str, *, now: datetime) -> None:
    """Put a given-up row back among those reconciliation checks, for another give-up age."""
    await session.execute(sa.update(model).where(model.id == row_id).values(updated_at=now, last_checked_at=None))


async def list_open_created_before(
    session: AsyncSession, model: type[Row], *, created_before: datetime, limit: int
) -> Sequence[Row]:
    """The rows still open (not final) that were created before ``created_before``, oldest first."""
    query = (
        sa.select(model)
        .where(model.status.in_(OPEN_STATUSES[model]), model.created_at < created_before)
        .order_by(model.created_at, model.seq)
        .limit(min(limit, MAX_PAGE_SIZE))
    )
    return (await session.scalars(query)).all()


async def count_open_created_before(session: AsyncSession, model: type[Row], *, created_before: datetime) -> int:
    count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(model)
        .where(model.status.in_(OPEN_STATUSES[model]), model.created_at < created_before)
    )
    return int(count or 0)


async def count_per_day(session: AsyncSession, model: type[Row], *, since: datetime) -> dict[date, int]:
    """How many were created on each UTC day, from ``since`` on; days with none are absent."""
    day = sa.cast(sa.func.timezone("UTC", model.created_at), sa.Date)
    rows = await session.execute(
        sa.select(day, sa.func.count()).where(model.created_at >= since).group_by(day).order_by(day)
    )
    return {created_on: int(count) for created_on, count in rows}


async def open_totals(session: AsyncSession, model: type[Row]) -> list[tuple[str, str, int, int]]:
    """(platform id, currency, how many, their amount) of the ones not final yet."""
    rows = await session.execute(
        sa.select(model.platform_id, model.currency, sa.func.count(), sa.func.sum(model.amount_minor))
        .where(model.status.in_(OPEN_STATUSES[model]))
        .group_by(model.platform_id, model.currency)
        .order_by(model.platform_id, model.currency)
    )
    return [(platform_id, currency, int(count), int(amount)) for platform_id, currency, count, amount in rows]


async def list_open(session: AsyncSession, model: type[Row], *, currency: str, limit: int) -> Sequence[Row]:
    """The ones not final yet in ``currency``, oldest first."""
    query = (
        sa.select(model)
        .where(model.status.in_(OPEN_STATUSES[model]), model.currency == currency)
        .order_by(model.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def amount_per_day(session: AsyncSession, model: type[Row], *, since: datetime, currency: str) -> dict[date, int]:
    """The amount of those in ``currency`` created on each UTC day from ``since`` on; days with none are absent."""
    day = sa.cast(sa.func.timezone("UTC", model.created_at), sa.Date)
    rows = await session.execute(
        sa.select(day, sa.func.sum(model.amount_minor))
        .where(model.created_at >= since, model.currency == currency)
        .group_by(day)
    )
    return {created_on: int(amount) for created_on, amount in rows}
