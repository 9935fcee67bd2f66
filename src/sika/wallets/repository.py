from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.wallets.models import Wallet


async def get(session: AsyncSession, wallet_id: str) -> Wallet | None:
    return await session.get(Wallet, wallet_id)


async def get_by_account(session: AsyncSession, account_id: str) -> Wallet | None:
    return await session.scalar(sa.select(Wallet).where(Wallet.account_id == account_id))


async def get_for_party(session: AsyncSession, *, party_id: str, currency: str) -> Wallet | None:
    return await session.scalar(
        sa.select(Wallet).where(Wallet.party_id == party_id, Wallet.currency == currency)
    )


async def list_for_party(session: AsyncSession, party_id: str) -> Sequence[Wallet]:
    return (
        await session.scalars(
            sa.select(Wallet).where(Wallet.party_id == party_id).order_by(Wallet.currency)
        )
    ).all()
