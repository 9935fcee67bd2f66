"""A wallet's history and a party's wallets over a month, read from the ledger
(the party summary, ``GET /v1/parties/{id}/summary``, adds its escrows: ``sika.escrow``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.ledger import service as ledger_service
from sika.parties import service as parties_service
from sika.parties.models import Party
from sika.wallets import repository, schemas
from sika.wallets.models import HoldOwnerType
from sika.wallets.service import fees as platform_fees
from sika.wallets.service import wallets

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
class WalletMonth:
    """One wallet's money now and what moved through it in a month."""

    currency: str
    balance_minor: int
    held_minor: int
    available_minor: int
    received_minor: int
    """Everything credited to the wallet in the month."""
    paid_out_minor: int
    """What payouts took out of it in the month (their holds captured): not every debit."""
    fees_paid_minor: int
    """What its captured holds paid its platform's fee account in the month."""


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


async def party_months(
    session: AsyncSession, *, party_id: str, actor: Actor, since: datetime, until: datetime, now: datetime
) -> tuple[Party, list[WalletMonth]]:
    """The party and, per wallet (by currency), its money at ``now`` and what moved
    through it in ``[since, until)``."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    party_wallets = await repository.list_for_party(session, party.id)
    flows = await ledger_service.posted_flows(
        session, account_ids=[w.account_id for w in party_wallets], since=since, until=until
    )
    fees = await ledger_service.posted_flows(
        session,
        account_ids=[w.holds_account_id for w in party_wallets],
        since=since,
        until=until,
        code=platform_fees.FEE_CODE,
    )
    payouts = await repository.captured_by_owner(
        session,
        wallet_ids=[w.id for w in party_wallets],
        owner_type=HoldOwnerType.payout,
        since=since,
        until=until,
    )
    months: list[WalletMonth] = []
    for wallet in party_wallets:
        view = await wallets.wallet_view(session, wallet, now=now)
        months.append(
            WalletMonth(
                currency=wallet.currency,
                balance_minor=view.balance_minor,
                held_minor=view.held_minor,
                available_minor=view.available_minor,
                received_minor=flows[wallet.account_id][1],
                paid_out_minor=payouts.get(wallet.id, 0),
                fees_paid_minor=fees[wallet.holds_account_id][0],
            )
        )
    return party, months
