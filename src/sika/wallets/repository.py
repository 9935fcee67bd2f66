from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.ledger.models import Transfer
from sika.wallets.models import HoldOwnerType, Wallet, WalletHold, WalletOpenHold


async def add(session: AsyncSession, row: Wallet | WalletHold) -> None:
    """Insert a new wallet or hold record now, in the caller's transaction."""
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, wallet_id: str) -> Wallet | None:
    return await session.get(Wallet, wallet_id)


async def get_by_account(session: AsyncSession, account_id: str) -> Wallet | None:
    return await session.scalar(sa.select(Wallet).where(Wallet.account_id == account_id))


async def get_for_party(session: AsyncSession, *, party_id: str, currency: str) -> Wallet | None:
    return await session.scalar(sa.select(Wallet).where(Wallet.party_id == party_id, Wallet.currency == currency))


async def list_for_party(session: AsyncSession, party_id: str, page: paging.Page | None = None) -> Sequence[Wallet]:
    """By currency; a ``page`` of them newest first."""
    query = sa.select(Wallet).where(Wallet.party_id == party_id)
    query = paging.paged(query, Wallet.seq, page) if page is not None else query.order_by(Wallet.currency)
    return (await session.scalars(query)).all()


async def get_hold(session: AsyncSession, hold_id: str) -> WalletHold | None:
    return await session.get(WalletHold, hold_id)


async def get_holds(session: AsyncSession, hold_ids: Sequence[str]) -> dict[str, WalletHold]:
    rows = await session.scalars(sa.select(WalletHold).where(WalletHold.id.in_(hold_ids)))
    return {row.id: row for row in rows}


async def lapsed_holds(session: AsyncSession, *, account_id: str, now: datetime) -> dict[str, int]:
    """The wallet account's holds still open in the ledger but past their
    expiry at ``now``, with their amounts: read from its open holds, so it
    costs those, not the account's history."""
    rows = await session.execute(
        sa.select(Transfer.id, Transfer.amount_minor)
        .join(WalletOpenHold, WalletOpenHold.transfer_id == Transfer.id)
        .where(
            WalletOpenHold.account_id == account_id,
            Transfer.debit_account_id == account_id,
            Transfer.expires_at <= now,
        )
    )
    return {hold_id: amount for hold_id, amount in rows}


async def captured_by_owner(
    session: AsyncSession, *, wallet_ids: Sequence[str], owner_type: HoldOwnerType, since: datetime, until: datetime
) -> dict[str, int]:
    """Per wallet, what the holds of ``owner_type`` (a payout's) took out of it in
    ``[since, until)``: the posts of their pending transfers made then."""
    if not wallet_ids:
        return {}
    rows = await session.execute(
        sa.select(WalletHold.wallet_id, sa.func.sum(Transfer.amount_minor))
        .join(Transfer, Transfer.pending_id == WalletHold.id)
        .where(
            WalletHold.wallet_id.in_(wallet_ids),
            WalletHold.owner_type == owner_type.value,
            Transfer.kind == "post_pending",
            Transfer.created_at >= since,
            Transfer.created_at < until,
        )
        .group_by(WalletHold.wallet_id)
    )
    return {wallet_id: int(total) for wallet_id, total in rows}
