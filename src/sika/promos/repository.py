"""Promo code and redemption queries."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.promos.models import HOLDING_STATES, PromoCode, PromoRedemption


async def add(session: AsyncSession, row: PromoCode | PromoRedemption) -> None:
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, promo_code_id: str) -> PromoCode | None:
    return await session.get(PromoCode, promo_code_id)


async def by_code(session: AsyncSession, *, platform_id: str, code: str) -> PromoCode | None:
    """The platform's code, whatever its case (the unique index is on ``lower(code)``)."""
    query = sa.select(PromoCode).where(
        PromoCode.platform_id == platform_id, sa.func.lower(PromoCode.code) == code.lower()
    )
    return (await session.scalars(query)).one_or_none()


async def lock(session: AsyncSession, promo_code_id: str) -> PromoCode | None:
    """The code under its row lock, as last committed: every reservation of the
    code waits here, so what it counts next no other reservation can change."""
    query = sa.select(PromoCode).where(PromoCode.id == promo_code_id).with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def party_uses(session: AsyncSession, *, promo_code_id: str, party_id: str) -> int:
    query = sa.select(sa.func.count()).where(
        PromoRedemption.promo_code_id == promo_code_id,
        PromoRedemption.party_id == party_id,
        PromoRedemption.state.in_(HOLDING_STATES),
    )
    return int(await session.scalar(query) or 0)


async def redemption(session: AsyncSession, *, subject_id: str, promo_code_id: str) -> PromoRedemption | None:
    """The subject's redemption of the code, under its row lock."""
    query = (
        sa.select(PromoRedemption)
        .where(PromoRedemption.subject_id == subject_id, PromoRedemption.promo_code_id == promo_code_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one_or_none()


async def count_use(session: AsyncSession, promo: PromoCode, delta: int) -> None:
    """Add ``delta`` to the code's uses, in SQL (the row is locked by ``lock``)."""
    await session.execute(
        sa.update(PromoCode).where(PromoCode.id == promo.id).values(uses=PromoCode.uses + delta),
        execution_options={"synchronize_session": False},
    )
    await session.refresh(promo, ["uses"])


async def list_codes(session: AsyncSession, *, active: bool | None, page: paging.Page) -> Sequence[PromoCode]:
    query = sa.select(PromoCode)
    if active is not None:
        query = query.where(PromoCode.active == active)
    return (await session.scalars(paging.paged(query, PromoCode.seq, page))).all()
