"""Catalogue and mandate queries, the locking reads among them. Every move of a
mandate's money locks the mandate's row first (then its payee's, for a spend),
so two of them on one mandate take turns: a limit or a balance is read and
changed by one transaction at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.mandates.models import Mandate, MandatePayee, MandatePurchase, MandateSpend, Merchant, SpendCategory
from sika.mandates.states import MandateStatus

Row = SpendCategory | Merchant | Mandate | MandatePayee | MandatePurchase | MandateSpend


async def add(session: AsyncSession, *rows: Row) -> None:
    session.add_all(rows)
    await session.flush()


async def category(session: AsyncSession, category_id: str) -> SpendCategory | None:
    return await session.get(SpendCategory, category_id)


async def category_by_code(session: AsyncSession, *, platform_id: str, code: str) -> SpendCategory | None:
    return await session.scalar(
        sa.select(SpendCategory).where(SpendCategory.platform_id == platform_id, SpendCategory.code == code)
    )


async def list_categories(session: AsyncSession, *, page: paging.Page) -> Sequence[SpendCategory]:
    return (await session.scalars(paging.paged(sa.select(SpendCategory), SpendCategory.seq, page))).all()


async def merchant(session: AsyncSession, merchant_id: str, *, for_update: bool = False) -> Merchant | None:
    query = sa.select(Merchant).where(Merchant.id == merchant_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def merchant_of_party(session: AsyncSession, *, platform_id: str, party_id: str) -> Merchant | None:
    return await session.scalar(
        sa.select(Merchant).where(Merchant.platform_id == platform_id, Merchant.party_id == party_id)
    )


async def list_merchants(session: AsyncSession, *, certified: bool | None, page: paging.Page) -> Sequence[Merchant]:
    query = sa.select(Merchant)
    if certified is not None:
        query = query.where(Merchant.certified == certified)
    return (await session.scalars(paging.paged(query, Merchant.seq, page))).all()


async def get(session: AsyncSession, mandate_id: str) -> Mandate | None:
    return await session.get(Mandate, mandate_id)


async def get_for_update(session: AsyncSession, mandate_id: str) -> Mandate | None:
    return await session.scalar(sa.select(Mandate).where(Mandate.id == mandate_id).with_for_update())


async def active_between(session: AsyncSession, *, sender: str, beneficiary: str, currency: str) -> Mandate | None:
    return await session.scalar(
        sa.select(Mandate).where(
            Mandate.sender_party_id == sender,
            Mandate.beneficiary_party_id == beneficiary,
            Mandate.currency == currency,
            Mandate.status == MandateStatus.active.value,
        )
    )


async def list_mandates(
    session: AsyncSession, *, party_id: str | None, status: str | None, page: paging.Page
) -> Sequence[Mandate]:
    """Newest first; with ``party_id``, the mandates it is the sender or the beneficiary of."""
    query = sa.select(Mandate)
    if party_id is not None:
        query = query.where(sa.or_(Mandate.sender_party_id == party_id, Mandate.beneficiary_party_id == party_id))
    if status is not None:
        query = query.where(Mandate.status == status)
    return (await session.scalars(paging.paged(query, Mandate.seq, page))).all()


async def payees(session: AsyncSession, mandate_ids: Sequence[str]) -> dict[str, list[MandatePayee]]:
    rows = await session.scalars(
        sa.select(MandatePayee).where(MandatePayee.mandate_id.in_(mandate_ids)).order_by(MandatePayee.seq)
    )
    found: dict[str, list[MandatePayee]] = {mandate_id: [] for mandate_id in mandate_ids}
    for row in rows:
        found[row.mandate_id].append(row)
    return found


async def payee_for_update(session: AsyncSession, *, mandate_id: str, payee_id: str) -> MandatePayee | None:
    return await session.scalar(
        sa.select(MandatePayee)
        .where(MandatePayee.id == payee_id, MandatePayee.mandate_id == mandate_id)
        .with_for_update()
    )


async def payee_of_party(session: AsyncSession, *, mandate_id: str, party_id: str) -> MandatePayee | None:
    return await session.scalar(
        sa.select(MandatePayee).where(MandatePayee.mandate_id == mandate_id, MandatePayee.party_id == party_id)
    )


async def spent_on(session: AsyncSession, payee_ids: Sequence[str], day: date) -> dict[str, int]:
    """What each payee was paid on ``day``."""
    rows = await session.execute(
        sa.select(MandateSpend.payee_id, sa.func.sum(MandateSpend.amount_minor))
        .where(MandateSpend.payee_id.in_(payee_ids), MandateSpend.day == day)
        .group_by(MandateSpend.payee_id)
    )
    return {payee_id: int(total) for payee_id, total in rows}


async def list_purchases(session: AsyncSession, *, mandate_id: str, page: paging.Page) -> Sequence[MandatePurchase]:
    query = sa.select(MandatePurchase).where(MandatePurchase.mandate_id == mandate_id)
    return (await session.scalars(paging.paged(query, MandatePurchase.seq, page))).all()


async def lock_due(session: AsyncSession, *, now: datetime, limit: int) -> list[Mandate]:
    """Active mandates whose expiry has come, locked; those another transaction
    holds (a purchase, a revocation, another worker) are skipped, so any number
    of workers share the work without waiting."""
    query = (
        sa.select(Mandate)
        .where(Mandate.status == MandateStatus.active.value, Mandate.expires_at <= now)
        .order_by(Mandate.expires_at, Mandate.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(sa.select(Mandate.status, sa.func.count()).group_by(Mandate.status))
    return {status: int(count) for status, count in rows}


async def merchants_with_categories(session: AsyncSession, *, limit: int) -> list[tuple[Merchant, SpendCategory]]:
    """Merchants, those waiting for certification first, then newest first; each with its category."""
    rows = await session.execute(
        sa.select(Merchant, SpendCategory)
        .join(SpendCategory, SpendCategory.id == Merchant.category_id)
        .order_by(Merchant.certified, Merchant.seq.desc())
        .limit(limit)
    )
    return [(merchant, category) for merchant, category in rows]


async def active_by_expiry(session: AsyncSession, *, limit: int) -> list[Mandate]:
    """Active mandates, the soonest to expire first."""
    query = (
        sa.select(Mandate)
        .where(Mandate.status == MandateStatus.active.value)
        .order_by(Mandate.expires_at, Mandate.seq)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
