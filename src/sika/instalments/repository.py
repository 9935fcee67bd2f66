"""Instalment queries, the locking reads among them. A mutation locks the plan
first and its instalments after, always in that order (the credit of a collection
too), so two of them on one plan take turns and never deadlock; the job takes
instalments alone, ``SKIP LOCKED``, and waits for no one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.instalments.models import Instalment, InstalmentPayment, InstalmentPlan, InstalmentReduction
from sika.instalments.states import OPEN_VALUES, InstalmentStatus, PaymentStatus

Row = InstalmentPlan | Instalment | InstalmentReduction | InstalmentPayment


async def add(session: AsyncSession, *rows: Row) -> None:
    session.add_all(rows)
    await session.flush()


async def get_plan(session: AsyncSession, plan_id: str, *, for_update: bool = False) -> InstalmentPlan | None:
    query = sa.select(InstalmentPlan).where(InstalmentPlan.id == plan_id)
    return await session.scalar(
        query.with_for_update().execution_options(populate_existing=True) if for_update else query
    )


async def get_instalment(session: AsyncSession, instalment_id: str, *, for_update: bool = False) -> Instalment | None:
    query = sa.select(Instalment).where(Instalment.id == instalment_id)
    return await session.scalar(
        query.with_for_update().execution_options(populate_existing=True) if for_update else query
    )


async def instalments_of(
    session: AsyncSession, plan_ids: Sequence[str], *, for_update: bool = False
) -> list[Instalment]:
    query = (
        sa.select(Instalment).where(Instalment.plan_id.in_(plan_ids)).order_by(Instalment.plan_id, Instalment.number)
    )
    return list(
        (
            await session.scalars(
                query.with_for_update().execution_options(populate_existing=True) if for_update else query
            )
        ).all()
    )


async def list_plans(
    session: AsyncSession, *, party_id: str | None, status: str | None, page: paging.Page
) -> Sequence[InstalmentPlan]:
    """Newest first; with ``party_id``, the plans it pays or is paid by."""
    query = sa.select(InstalmentPlan)
    if party_id is not None:
        query = query.where(
            sa.or_(InstalmentPlan.payer_party_id == party_id, InstalmentPlan.payee_party_id == party_id)
        )
    if status is not None:
        query = query.where(InstalmentPlan.status == status)
    return (await session.scalars(paging.paged(query, InstalmentPlan.seq, page))).all()


async def reductions(session: AsyncSession, instalment_id: str) -> list[InstalmentReduction]:
    query = (
        sa.select(InstalmentReduction)
        .where(InstalmentReduction.instalment_id == instalment_id)
        .order_by(InstalmentReduction.seq)
    )
    return list((await session.scalars(query)).all())


async def payments(session: AsyncSession, instalment_id: str) -> list[InstalmentPayment]:
    query = (
        sa.select(InstalmentPayment)
        .where(InstalmentPayment.instalment_id == instalment_id)
        .order_by(InstalmentPayment.seq)
    )
    return list((await session.scalars(query)).all())


async def pending_payment(session: AsyncSession, instalment_id: str) -> InstalmentPayment | None:
    return await session.scalar(
        sa.select(InstalmentPayment).where(
            InstalmentPayment.instalment_id == instalment_id,
            InstalmentPayment.status == PaymentStatus.pending.value,
        )
    )


async def succeeded_payment(session: AsyncSession, instalment_id: str) -> InstalmentPayment | None:
    return await session.scalar(
        sa.select(InstalmentPayment).where(
            InstalmentPayment.instalment_id == instalment_id,
            InstalmentPayment.status == PaymentStatus.succeeded.value,
        )
    )


async def payment_of_collection(
    session: AsyncSession, collection_id: str, *, for_update: bool
) -> InstalmentPayment | None:
    """The instalment payment a collection was started for, if any."""
    query = sa.select(InstalmentPayment).where(InstalmentPayment.collection_id == collection_id)
    return await session.scalar(
        query.with_for_update().execution_options(populate_existing=True) if for_update else query
    )


async def lock_advancing(
    session: AsyncSession, *, today: date, grace_days: int, reminder_days: Sequence[int], limit: int
) -> list[Instalment]:
    """Open instalments the job has something to do for today (become due, overdue, or a
    reminder not yet sent), locked; those another transaction holds are skipped."""
    becomes_due = sa.and_(Instalment.status == InstalmentStatus.scheduled.value, Instalment.due_on <= today)
    becomes_overdue = sa.and_(
        Instalment.status == InstalmentStatus.due.value,
        Instalment.due_on <= today - timedelta(days=grace_days),
    )
    # A reminder is owed for a threshold (days before) crossed and smaller than any sent.
    reminder = sa.text(
        "EXISTS (SELECT 1 FROM unnest(CAST(:reminder_days AS integer[])) AS d"
        " WHERE d < coalesce(instalments.reminded_within, 2147483647)"
        " AND instalments.due_on - CAST(:today AS date) <= d)"
    ).bindparams(reminder_days=list(reminder_days), today=today)
    reminds = sa.and_(Instalment.status == InstalmentStatus.scheduled.value, Instalment.due_on > today, reminder)
    query = (
        sa.select(Instalment)
        .where(Instalment.status.in_(OPEN_VALUES), sa.or_(becomes_due, becomes_overdue, reminds))
        .order_by(Instalment.due_on, Instalment.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def overdue(session: AsyncSession, *, limit: int) -> list[tuple[Instalment, InstalmentPlan]]:
    """Overdue instalments with their plans, the longest overdue first."""
    query = (
        sa.select(Instalment, InstalmentPlan)
        .join(InstalmentPlan, InstalmentPlan.id == Instalment.plan_id)
        .where(Instalment.status == InstalmentStatus.overdue.value)
        .order_by(Instalment.due_on, Instalment.seq)
        .limit(limit)
    )
    return [(instalment, plan) for instalment, plan in await session.execute(query)]
