"""A wallet's history and a party's financial summary, read from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.ledger import models as ledger_models
from sika.ledger import service as ledger_service
from sika.parties import service as parties_service
from sika.wallets import repository, schemas
from sika.wallets.models import HoldOwnerType
from sika.wallets.service import fees as platform_fees
from sika.wallets.service import wallets

ESCROW_ACCOUNT_KIND_PREFIX = "escrow"
"""Ledger accounts owned by a party whose kind starts with this hold its money in escrow."""

_ENTRY_TYPE_BY_DEBIT = {
    "posted": schemas.EntryType.debit,
    "pending": schemas.EntryType.hold_placed,
    "post_pending": schemas.EntryType.hold_captured,
    "void_pending": schemas.EntryType.hold_released,
    "expire_pending": schemas.EntryType.hold_expired,
}


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    transfer_id: str
    type: schemas.EntryType
    amount_minor: int
    balance_before_minor: int
    balance_after_minor: int
    held_before_minor: int
    held_after_minor: int
    hold_id: str | None
    collection_id: str | None
    payout_id: str | None
    reference: str | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_before_seq: int | None
    """The cursor for the next page, or None on the last one."""


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    balance_minor: int
    held_minor: int
    available_minor: int
    received_this_month_minor: int
    paid_out_this_month_minor: int
    escrow_pending_minor: int
    fees_paid_this_month_minor: int = 0
    """What the party's captured holds paid its platform's fee account this month."""


@dataclass(frozen=True)
class PartySummary:
    party_id: str
    platform_id: str
    month_start: datetime
    currencies: list[CurrencySummary]


async def history(
    session: AsyncSession, *, wallet_id: str, before_seq: int | None, limit: int, actor: Actor
) -> HistoryPage:
    """Every movement of the wallet's money, newest first, with its balance and
    held money before and after, derived from the ledger entries, and the hold,
    collection or payout behind it."""
    wallet = await wallets.owned_wallet(session, wallet_id=wallet_id, actor=actor)
    rows = await ledger_service.list_account_entries(
        session, account_id=wallet.account_id, before_seq=before_seq, limit=limit
    )
    owners = await _payouts_of_holds(session, rows)
    entries = [entry for row in rows if (entry := _history_entry(row, owners)) is not None]
    return HistoryPage(entries=entries, next_before_seq=rows[-1].seq if len(rows) == limit else None)


def _hold_of(row: ledger_service.AccountEntry) -> str | None:
    """The hold an entry of the wallet's own account moves: its pending transfer, for a
    debit that places or resolves one."""
    if row.side == "debit" and row.kind != "posted":
        return row.pending_id or row.transfer_id
    return None


async def _payouts_of_holds(session: AsyncSession, rows: list[ledger_service.AccountEntry]) -> dict[str, str]:
    """The payout each hold of these entries guarantees, from the holds' owner records."""
    hold_ids = sorted({hold_id for row in rows if (hold_id := _hold_of(row)) is not None})
    records = await repository.get_holds(session, hold_ids) if hold_ids else {}
    return {
        hold_id: record.owner_id
        for hold_id, record in records.items()
        if record.owner_type == HoldOwnerType.payout.value and record.owner_id is not None
    }


def _history_entry(row: ledger_service.AccountEntry, payouts: dict[str, str]) -> HistoryEntry | None:
    if row.side == "debit":
        kind = _ENTRY_TYPE_BY_DEBIT[row.kind]
    elif row.kind in ("posted", "post_pending"):
        kind = schemas.EntryType.credit
    else:
        # Money reserved towards this wallet, or such a reservation undone:
        # neither its balance nor its held money moved.
        return None
    described = row.pending_metadata if row.pending_id is not None else row.metadata
    # A credit names what paid it in its own metadata: a capture's payment its hold, a
    # collection's credit its collection, a payout given back its payout.
    paid_by = row.metadata or {}
    hold_id = _hold_of(row) or paid_by.get("hold_id")
    return HistoryEntry(
        seq=row.seq,
        transfer_id=row.transfer_id,
        type=kind,
        amount_minor=row.amount_minor,
        balance_before_minor=row.before.credits_posted - row.before.debits_posted,
        balance_after_minor=row.after.credits_posted - row.after.debits_posted,
        held_before_minor=row.before.debits_pending,
        held_after_minor=row.after.debits_pending,
        hold_id=hold_id,
        collection_id=paid_by.get("collection_id"),
        payout_id=payouts.get(hold_id or "") or paid_by.get("payout_id"),
        reference=(described or {}).get("reference"),
        reason=(described or {}).get("reason"),
        created_at=row.created_at,
    )


async def party_summary(session: AsyncSession, *, party_id: str, actor: Actor, now: datetime) -> PartySummary:
    """Per currency: the party's wallet money, what came in and went out of its
    wallets this calendar month (UTC), and what it holds in escrow accounts."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start.replace(day=28) + _FOUR_DAYS).replace(day=1)
    party_wallets = await repository.list_for_party(session, party.id)
    flows = await ledger_service.posted_flows(
        session, account_ids=[w.account_id for w in party_wallets], since=month_start, until=next_month
    )
    fees = await ledger_service.posted_flows(
        session,
        account_ids=[w.holds_account_id for w in party_wallets],
        since=month_start,
        until=next_month,
        code=platform_fees.FEE_CODE,
    )
    escrow: dict[str, int] = {}
    for account in await _party_accounts(session, party_id=party.id):
        if account.kind.startswith(ESCROW_ACCOUNT_KIND_PREFIX):
            balance = ledger_service.balance_of(account)
            escrow[account.currency] = escrow.get(account.currency, 0) + balance.posted_minor
    by_currency: dict[str, CurrencySummary] = {}
    for wallet in party_wallets:
        view = await wallets.wallet_view(session, wallet, now=now)
        paid_out, received = flows[wallet.account_id]
        by_currency[wallet.currency] = CurrencySummary(
            currency=wallet.currency,
            balance_minor=view.balance_minor,
            held_minor=view.held_minor,
            available_minor=view.available_minor,
            received_this_month_minor=received,
            paid_out_this_month_minor=paid_out,
            escrow_pending_minor=escrow.get(wallet.currency, 0),
            fees_paid_this_month_minor=fees[wallet.holds_account_id][0],
        )
    for currency, amount in escrow.items():
        if currency not in by_currency:
            by_currency[currency] = CurrencySummary(currency, 0, 0, 0, 0, 0, amount)
    return PartySummary(
        party_id=party.id,
        platform_id=party.platform_id,
        month_start=month_start,
        currencies=[by_currency[c] for c in sorted(by_currency)],
    )


_FOUR_DAYS = timedelta(days=4)
_ACCOUNTS_PAGE = 200


async def _party_accounts(session: AsyncSession, *, party_id: str) -> list[ledger_models.Account]:
    accounts: list[ledger_models.Account] = []
    while True:
        page = await ledger_service.list_accounts(
            session,
            owner_type="party",
            owner_id=party_id,
            after_seq=accounts[-1].seq if accounts else None,
            limit=_ACCOUNTS_PAGE,
        )
        accounts.extend(page)
        if len(page) < _ACCOUNTS_PAGE:
            return accounts
