"""The wallets' queries. The hot paths (a hold placed, captured, released)
read what they need in one statement each, through the session, so the
platform filter (``sika.core.tenancy``) narrows every table they touch."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import paging
from sika.ledger.models import Account, Transfer
from sika.parties.models import Party
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
    rows = await session.execute(_lapsed(account_id, now))
    return {hold_id: amount for hold_id, amount in rows}


def _lapsed(account_id: Any, now: Any) -> sa.Select[str, int]:
    """The open holds of this wallet account past their expiry at ``now`` (see ``lapsed_holds``)."""
    return (
        sa.select(Transfer.id, Transfer.amount_minor)
        .join(WalletOpenHold, WalletOpenHold.transfer_id == Transfer.id)
        .where(
            WalletOpenHold.account_id == account_id,
            Transfer.debit_account_id == account_id,
            Transfer.expires_at <= now,
        )
    )


# The hot paths' statements are built once, with bound parameters: building one
# (its aliases, subqueries and bound parameters) cost more CPU than running it.
_NOW = sa.bindparam("now", type_=sa.DateTime(timezone=True))
_LAPSED_OF_ACCOUNT = _lapsed(sa.bindparam("account_id", type_=sa.String), _NOW).subquery()
_ACCOUNT_AND_LAPSED = (
    sa.select(Account, sa.select(sa.func.coalesce(sa.func.sum(_LAPSED_OF_ACCOUNT.c.amount_minor), 0)).scalar_subquery())
    .where(Account.id == sa.bindparam("account_id", type_=sa.String))
    .execution_options(populate_existing=True)
)
# Correlated with the wallet read beside it: a derived table (``.subquery()``) would not be, and
# would gather the lapsed holds of every wallet of the platform, which the new hold then expired.
_LAPSED_IDS_OF_WALLET = (
    _lapsed(Wallet.account_id, _NOW)
    .with_only_columns(sa.func.array_agg(Transfer.id))
    .correlate(Wallet)
    .scalar_subquery()
)
_WALLET_TO_DEBIT = (
    sa.select(Wallet, Party.status, _LAPSED_IDS_OF_WALLET)
    .join(Party, Party.id == Wallet.party_id)
    .where(Wallet.id == sa.bindparam("wallet_id", type_=sa.String))
    .with_for_update(read=True, of=Party)
)


async def account_and_lapsed(session: AsyncSession, *, account_id: str, now: datetime) -> tuple[Account, int]:
    """The wallet's ledger account and the sum of its holds lapsed at ``now``, in one statement."""
    row = (await session.execute(_ACCOUNT_AND_LAPSED, {"account_id": account_id, "now": now})).one()
    return row[0], int(row[1])


@dataclass(frozen=True)
class WalletToDebit:
    wallet: Wallet
    party_status: str
    lapsed_hold_ids: list[str]
    """Its holds past their expiry, still open in the ledger (``lapsed_holds``)."""


async def wallet_to_debit(session: AsyncSession, wallet_id: str, *, now: datetime) -> WalletToDebit | None:
    """The wallet, its party's status (the party share-locked: it cannot be
    suspended before the transaction ends) and its lapsed holds, in one statement."""
    row = (await session.execute(_WALLET_TO_DEBIT, {"wallet_id": wallet_id, "now": now})).one_or_none()
    if row is None:
        return None
    return WalletToDebit(wallet=row[0], party_status=row[1], lapsed_hold_ids=sorted(row[2] or []))


@dataclass(frozen=True)
class HoldRow:
    """A hold as the flows that resolve it read it: its pending transfer, its
    owner record, its wallet, the transfer that resolved it (if any), its
    party's status, and the wallet its capture would pay (if one was named)."""

    pending: Transfer
    record: WalletHold
    wallet: Wallet
    resolution: Transfer | None
    party_status: str
    destination: Wallet | None


_RESOLUTION = orm.aliased(Transfer, name="resolution")
_DESTINATION = orm.aliased(Wallet, name="destination")


@functools.cache
def _hold_query(*, with_destination: bool, lock_party: bool) -> sa.Select[*tuple[Any, ...]]:
    query = (
        sa.select(Transfer, WalletHold, Wallet, _RESOLUTION, Party.status)
        .join(WalletHold, WalletHold.id == Transfer.id)
        .join(Wallet, Wallet.account_id == Transfer.debit_account_id)
        .join(Party, Party.id == Wallet.party_id)
        .outerjoin(_RESOLUTION, _RESOLUTION.pending_id == Transfer.id)
        .where(
            Transfer.id == sa.bindparam("hold_id", type_=sa.String),
            Transfer.kind == "pending",
            Transfer.code == sa.bindparam("code", type_=sa.String),
        )
    )
    if with_destination:
        query = query.add_columns(_DESTINATION).outerjoin(
            _DESTINATION, _DESTINATION.id == sa.bindparam("destination_wallet_id", type_=sa.String)
        )
    return query.with_for_update(read=True, of=Party) if lock_party else query


async def hold_row(
    session: AsyncSession, hold_id: str, *, code: str, destination_wallet_id: str | None, lock_party: bool
) -> HoldRow | None:
    """The hold with this id and ``code``, in one statement; with ``lock_party``
    its wallet's party is share-locked (see ``wallet_to_debit``)."""
    with_destination = destination_wallet_id is not None
    query = _hold_query(with_destination=with_destination, lock_party=lock_party)
    parameters = {"hold_id": hold_id, "code": code, "destination_wallet_id": destination_wallet_id}
    found = (await session.execute(query, parameters)).one_or_none()
    if found is None:
        return None
    row: tuple[Any, ...] = tuple(found)
    return HoldRow(
        pending=row[0],
        record=row[1],
        wallet=row[2],
        resolution=row[3],
        party_status=row[4],
        destination=row[5] if with_destination else None,
    )


_INSERT_HOLD = sa.insert(cast(sa.Table, WalletHold.__table__))


async def insert_hold(session: AsyncSession, record: WalletHold) -> None:
    """Insert a hold's owner record in one statement, without the unit of work's flush."""
    await session.execute(_INSERT_HOLD, {column.key: getattr(record, column.key) for column in _INSERT_HOLD.table.c})


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
