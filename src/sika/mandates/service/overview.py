"""What operators watch (the dashboard's mandates page): how many mandates are in
each state, the merchants to certify (or decertify), and the active mandates with
how much of each was spent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sika.mandates import repository
from sika.mandates.models import Mandate, Merchant, SpendCategory
from sika.mandates.states import MandateStatus

OVERVIEW_SHOWN = 100
"""Rows listed per section."""


@dataclass(frozen=True)
class ListedMerchant:
    merchant: Merchant
    category: SpendCategory


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    """Mandates per state, every state named (0 where none)."""
    merchants: list[ListedMerchant]
    """Those not certified first."""
    active: list[Mandate]
    """The soonest to expire first."""


async def operator_overview(session: AsyncSession) -> Overview:
    counted = await repository.count_by_status(session)
    merchants = await repository.merchants_with_categories(session, limit=OVERVIEW_SHOWN)
    return Overview(
        counts={status.value: counted.get(status.value, 0) for status in MandateStatus},
        merchants=[ListedMerchant(merchant=merchant, category=category) for merchant, category in merchants],
        active=await repository.active_by_expiry(session, limit=OVERVIEW_SHOWN),
    )
