"""Transfer queries."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.transfers.models import Transfer


async def add(session: AsyncSession, transfer: Transfer) -> None:
    session.add(transfer)
    await session.flush()


async def get(session: AsyncSession, transfer_id: str) -> Transfer | None:
    return await session.get(Transfer, transfer_id)


async def list_transfers(
    session: AsyncSession, *, party_id: str | None, wallet_id: str | None, page: paging.Page
) -> Sequence[Transfer]:
    """Newest first; a party's (or wallet's) as sender or recipient."""
    query = sa.select(Transfer)
    if party_id is not None:
        query = query.where(sa.or_(Transfer.sender_party_id == party_id, Transfer.recipient_party_id == party_id))
    if wallet_id is not None:
        query = query.where(sa.or_(Transfer.sender_wallet_id == wallet_id, Transfer.recipient_wallet_id == wallet_id))
    return (await session.scalars(paging.paged(query, Transfer.seq, page))).all()
