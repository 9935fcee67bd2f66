"""Escrow queries, the locking reads among them. A mutation locks its escrow
first and its milestones after, always in that order (the minute job too), so
two of them on one escrow take turns and never deadlock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.escrow.models import Escrow, EscrowCollection, EscrowMilestone
from sika.escrow.states import EscrowStatus, MilestoneStatus


async def add(session: AsyncSession, *rows: Escrow | EscrowMilestone | EscrowCollection) -> None:
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


async def milestone_for_update(session: AsyncSession, escrow_id: str, number: int) -> EscrowMilestone | None:
    """One milestone, locked (its escrow locked first, as everywhere)."""
    query = sa.select(EscrowMilestone).where(EscrowMilestone.escrow_id == escrow_id, EscrowMilestone.number == number)
    return await session.scalar(query.with_for_update())


async def funding_collection(session: AsyncSession, collection_id: str) -> EscrowCollection | None:
    """The escrow a collection was started to fund, if any."""
    return await session.get(EscrowCollection, collection_id)


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


@dataclass
class BeneficiaryTotals:
    """One currency of the escrows a party is the beneficiary of."""

    currency: str
    held_minor: int = 0
    """Deposited and neither released nor refunded yet."""
    next_release_at: datetime | None = None
    """The earliest release time of their delivered milestones."""
    released_minor: int = 0
    """Released to the party's wallet in the period, less the fees."""
    fees_minor: int = 0
    """The fees those releases paid the platform."""


async def beneficiary_totals(
    session: AsyncSession, *, party_id: str, since: datetime, until: datetime
) -> dict[str, BeneficiaryTotals]:
    """Per currency, the escrows ``party_id`` is the beneficiary of: what they hold now,
    when the next of their milestones is released, and what was released in ``[since, until)``."""
    mine = Escrow.beneficiary_party_id == party_id
    totals: dict[str, BeneficiaryTotals] = {}
    held = await session.execute(
        sa.select(Escrow.currency, sa.func.sum(Escrow.funded_minor - Escrow.released_minor - Escrow.refunded_minor))
        .where(mine, Escrow.status.in_((EscrowStatus.awaiting_funding.value, EscrowStatus.funded.value)))
        .group_by(Escrow.currency)
    )
    for currency, amount in held:
        totals.setdefault(currency, BeneficiaryTotals(currency)).held_minor = int(amount)
    by_milestone = sa.select(Escrow.currency).join(EscrowMilestone, EscrowMilestone.escrow_id == Escrow.id).where(mine)
    due = await session.execute(
        by_milestone.add_columns(sa.func.min(EscrowMilestone.release_at))
        .where(EscrowMilestone.status == MilestoneStatus.delivered.value)
        .group_by(Escrow.currency)
    )
    for currency, release_at in due:
        totals.setdefault(currency, BeneficiaryTotals(currency)).next_release_at = release_at
    released = await session.execute(
        by_milestone.add_columns(
            sa.func.sum(EscrowMilestone.released_minor - EscrowMilestone.fee_paid_minor),
            sa.func.sum(EscrowMilestone.fee_paid_minor),
        )
        .where(
            EscrowMilestone.released_minor > 0,
            EscrowMilestone.completed_at >= since,
            EscrowMilestone.completed_at < until,
        )
        .group_by(Escrow.currency)
    )
    for currency, net, fees in released:
        found = totals.setdefault(currency, BeneficiaryTotals(currency))
        found.released_minor, found.fees_minor = int(net), int(fees)
    return totals


async def amount_per_day(session: AsyncSession, *, since: datetime, currency: str) -> dict[date, int]:
    """The amount of the escrows in ``currency`` created on each UTC day from ``since`` on; days with none absent."""
    day = sa.cast(sa.func.timezone("UTC", Escrow.created_at), sa.Date)
    rows = await session.execute(
        sa.select(day, sa.func.sum(Escrow.amount_minor))
        .where(Escrow.created_at >= since, Escrow.currency == currency)
        .group_by(day)
    )
    return {created_on: int(amount) for created_on, amount in rows}


async def created_per_day(session: AsyncSession, *, since: datetime) -> dict[date, int]:
    """How many escrows were created on each UTC day from ``since`` on; days with none are absent."""
    day = sa.cast(sa.func.timezone("UTC", Escrow.created_at), sa.Date)
    rows = await session.execute(sa.select(day, sa.func.count()).where(Escrow.created_at >= since).group_by(day))
    return {created_on: int(count) for created_on, count in rows}
