"""Escrow queries, the locking reads among them. A mutation locks its escrow
first and its milestones after, always in that order (the minute job too), so
two of them on one escrow take turns and never deadlock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.states import EscrowStatus, MilestoneStatus


async def add(session: AsyncSession, *rows: Escrow | EscrowMilestone) -> None:
    session.add_all(rows)
    await session.flush()


async def get(session: AsyncSession, escrow_id: str) -> Escrow | None:
    return await session.get(Escrow, escrow_id)


async def get_for_update(session: AsyncSession, escrow_id: str) -> Escrow | None:
    return await session.scalar(sa.select(Escrow).where(Escrow.id == escrow_id).with_for_update())


async def milestones(session: AsyncSession, escrow_id: str, *, for_update: bool = False) -> list[EscrowMilestone]:
    query = sa.select(EscrowMilestone).where(EscrowMilestone.escrow_id == escrow_id).order_by(EscrowMilestone.number)
    if for_update:
        query = query.with_for_update()
    return list((await session.scalars(query)).all())


async def list_escrows(
    session: AsyncSession, *, party_id: str | None, status: str | None, page: paging.Page
) -> Sequence[Escrow]:
    """Newest first; with ``party_id``, the escrows it is the client or the beneficiary of."""
    query = sa.select(Escrow)
    if party_id is not None:
        query = query.where(sa.or_(Escrow.client_party_id == party_id, Escrow.beneficiary_party_id == party_id))
    if status is not None:
        query = query.where(Escrow.status == status)
    return (await session.scalars(paging.paged(query, Escrow.seq, page))).all()


async def milestones_of(session: AsyncSession, escrow_ids: Sequence[str]) -> dict[str, list[EscrowMilestone]]:
    rows = await session.scalars(
        sa.select(EscrowMilestone)
        .where(EscrowMilestone.escrow_id.in_(escrow_ids))
        .order_by(EscrowMilestone.escrow_id, EscrowMilestone.number)
    )
    found: dict[str, list[EscrowMilestone]] = {escrow_id: [] for escrow_id in escrow_ids}
    for row in rows:
        found[row.escrow_id].append(row)
    return found


async def lock_due(session: AsyncSession, *, now: datetime, limit: int) -> list[Escrow]:
    """Funded escrows with a milestone due at ``now`` (delivered and past its release
    time, or pending and past its deadline), locked; those another transaction holds
    are skipped, so any number of workers share the work without waiting."""
    due = sa.select(EscrowMilestone.escrow_id).where(
        sa.or_(
            sa.and_(
                EscrowMilestone.status == MilestoneStatus.delivered.value,
                EscrowMilestone.release_at <= now,
                EscrowMilestone.proof_required.is_(False),
            ),
            sa.and_(EscrowMilestone.status == MilestoneStatus.pending.value, EscrowMilestone.deliver_by <= now),
        )
    )
    query = (
        sa.select(Escrow)
        .where(Escrow.id.in_(due), Escrow.status == EscrowStatus.funded.value)
        .order_by(Escrow.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(sa.select(Escrow.status, sa.func.count()).group_by(Escrow.status))
    return {status: int(count) for status, count in rows}


async def milestones_in(
    session: AsyncSession, *, status: MilestoneStatus, before: datetime | None, limit: int
) -> list[tuple[EscrowMilestone, Escrow]]:
    """Milestones in ``status`` with their escrows: delivered ones by release time (those
    released before ``before``), disputed ones oldest dispute first."""
    query = sa.select(EscrowMilestone, Escrow).join(Escrow, Escrow.id == EscrowMilestone.escrow_id)
    query = query.where(EscrowMilestone.status == status.value)
    if status is MilestoneStatus.delivered:
        query = query.order_by(EscrowMilestone.release_at)
        if before is not None:
            query = query.where(EscrowMilestone.release_at <= before)
    else:
        query = query.order_by(EscrowMilestone.disputed_at)
    return [(milestone, escrow) for milestone, escrow in await session.execute(query.limit(limit))]
