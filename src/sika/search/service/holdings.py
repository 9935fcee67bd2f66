"""The stories of what holds money: a hold (oldest first, as a payment's: it is short),
a wallet and a party (newest first and bounded: they last for years).

A hold's: its placement, capture, release or expiry (each with its wallet's balance and
held money before and after), the payout it guarantees, its alerts and audit rows.
A wallet's: its movements as ``GET /v1/wallets/{id}/history`` reads them (the balance and
held money before and after each, derived from the ledger's entries), its audit rows and
alerts. A party's: its audit rows and alerts, its wallets' movements, and its collections,
payouts and escrows as linked entries (each one's own timeline tells the rest)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts.models import Alert
from sika.audit.models import AuditEvent
from sika.core.context import Actor
from sika.escrow.models import Escrow
from sika.parties import service as parties_service
from sika.parties.models import Party
from sika.payments import service as payments_service
from sika.payments.models import Collection, Payout
from sika.search import repository
from sika.search.service.entries import Entry, alert_entry, audit_entry, balances_around, in_order
from sika.search.service.timeline import Placement, with_transfers
from sika.wallets import service as wallets_service
from sika.wallets.models import HoldOwnerType, Wallet

DEFAULT_TIMELINE_LIMIT = 50
MAX_TIMELINE_LIMIT = 200
"""A wallet's or a party's timeline shows its newest entries, at most this many."""
_HOLD_STATES = {"hold.placed": "open", "hold.captured": "captured", "hold.released": "released"}
"""The holds' audit actions and the state each one leaves the hold in."""


@dataclass(frozen=True)
class HoldTimeline:
    hold: wallets_service.HoldView
    entries: list[Entry]


@dataclass(frozen=True)
class WalletTimeline:
    wallet: wallets_service.WalletView
    entries: list[Entry]
    limit: int
    truncated: bool
    """Older entries exist than the ``limit`` shown."""


@dataclass(frozen=True)
class PartyTimeline:
    party: Party
    wallet_ids: list[str]
    entries: list[Entry]
    limit: int
    truncated: bool


async def hold_timeline(session: AsyncSession, *, hold_id: str, actor: Actor, now: datetime) -> HoldTimeline:
    """The story of the hold ``actor`` may read (``HoldNotFound`` otherwise), oldest first."""
    view = await wallets_service.get_hold(session, hold_id=hold_id, actor=actor, now=now)
    audits = await repository.audit_rows(session, entity_type="hold", entity_id=hold_id)
    entries = [_hold_audit_entry(row) for row in audits]
    alerts = await repository.alerts_about(session, entity_type="hold", entity_id=hold_id)
    entries += [alert_entry(alert) for alert in alerts]
    if view.record.owner_type == HoldOwnerType.payout.value and view.record.owner_id is not None:
        payout = await payments_service.get_payout(session, payout_id=view.record.owner_id, actor=actor)
        entries.append(_linked("payout", payout))
    placed: list[Placement] = [
        (("open",), await repository.transfers(session, [hold_id])),
        (("captured", "released"), await repository.resolutions_of(session, hold_id)),
    ]
    balances = await balances_around(session, view.wallet.wallet.account_id, [t for _, some in placed for t in some])
    return HoldTimeline(hold=view, entries=with_transfers(in_order(entries), placed, balances))


async def wallet_timeline(
    session: AsyncSession, *, wallet_id: str, actor: Actor, now: datetime, limit: int
) -> WalletTimeline:
    """The newest ``limit`` entries of the wallet ``actor`` may read (``WalletNotFound`` otherwise)."""
    view = await wallets_service.get_wallet(session, wallet_id=wallet_id, actor=actor, now=now)
    entries, more = await _movements(session, view.wallet, actor=actor, limit=limit)
    entries += await _noted(session, "wallet", wallet_id, limit=limit)
    shown, truncated = _newest(entries, limit)
    return WalletTimeline(wallet=view, entries=shown, limit=limit, truncated=truncated or more)


async def party_timeline(session: AsyncSession, *, party_id: str, actor: Actor, limit: int) -> PartyTimeline:
    """The newest ``limit`` entries of the party ``actor`` may read (``PartyNotFound`` otherwise)."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    wallets = await repository.wallets_of(session, party.id)
    entries = await _noted(session, "party", party.id, limit=limit)
    more = False
    for wallet in wallets:
        moved, older = await _movements(session, wallet, actor=actor, limit=limit)
        entries += moved
        more = more or older
    collections = await repository.newest_of_party(session, Collection, party_id=party.id, limit=limit)
    payouts = await repository.newest_of_party(session, Payout, party_id=party.id, limit=limit)
    entries += [_linked("collection", row) for row in collections] + [_linked("payout", row) for row in payouts]
    escrows = await repository.newest_escrows_of(session, party_id=party.id, limit=limit)
    entries += [_linked_escrow(escrow, party.id) for escrow in escrows]
    shown, truncated = _newest(entries, limit)
    return PartyTimeline(
        party=party, wallet_ids=[w.id for w in wallets], entries=shown, limit=limit, truncated=truncated or more
    )


def _hold_audit_entry(row: AuditEvent) -> Entry:
    entry = audit_entry(row)
    state = _HOLD_STATES.get(row.action)
    return entry if state is None else replace(entry, kind="state_change", state=state)


async def _noted(session: AsyncSession, entity_type: str, entity_id: str, *, limit: int) -> list[Entry]:
    """The object's newest audit rows and alerts."""
    audits = await repository.newest_about(
        session, AuditEvent, entity_type=entity_type, entity_id=entity_id, limit=limit
    )
    alerts = await repository.newest_about(session, Alert, entity_type=entity_type, entity_id=entity_id, limit=limit)
    return [audit_entry(row) for row in audits] + [alert_entry(alert) for alert in alerts]


async def _movements(session: AsyncSession, wallet: Wallet, *, actor: Actor, limit: int) -> tuple[list[Entry], bool]:
    """The wallet's newest movements, and whether older ones exist."""
    page = await wallets_service.history(session, wallet_id=wallet.id, before_seq=None, limit=limit, actor=actor)
    entries = [
        Entry(
            at=moved.created_at,
            kind="ledger_transfer",
            id=moved.transfer_id,
            action=moved.type.value,
            details={
                "wallet_id": wallet.id,
                "amount_minor": moved.amount_minor,
                "currency": wallet.currency,
                "account_id": wallet.account_id,
                "balance_before_minor": moved.balance_before_minor,
                "balance_after_minor": moved.balance_after_minor,
                "held_before_minor": moved.held_before_minor,
                "held_after_minor": moved.held_after_minor,
                "hold_id": moved.hold_id,
                "collection_id": moved.collection_id,
                "payout_id": moved.payout_id,
            },
        )
        for moved in page.entries
    ]
    return entries, page.next_before_seq is not None


def _newest(entries: list[Entry], limit: int) -> tuple[list[Entry], bool]:
    """Newest first, at most ``limit``, and whether some were left out."""
    ordered = list(reversed(in_order(entries)))
    return ordered[:limit], len(ordered) > limit


def _linked(kind: str, row: Collection | Payout) -> Entry:
    return Entry(
        at=row.created_at,
        kind="linked",
        id=row.id,
        state=row.status,
        details={
            "object_kind": kind,
            "amount_minor": row.amount_minor,
            "currency": row.currency,
            "wallet_id": row.wallet_id,
        },
    )


def _linked_escrow(escrow: Escrow, party_id: str) -> Entry:
    return Entry(
        at=escrow.created_at,
        kind="linked",
        id=escrow.id,
        state=escrow.status,
        details={
            "object_kind": "escrow",
            "role": "client" if escrow.client_party_id == party_id else "beneficiary",
            "amount_minor": escrow.amount_minor,
            "currency": escrow.currency,
        },
    )


def hold_summary(view: wallets_service.HoldView) -> dict[str, object]:
    """The hold's named facts (``HoldSummary``)."""
    return {
        "id": view.pending.id,
        "state": view.status.value,
        "amount_minor": view.pending.amount_minor,
        "currency": view.pending.currency,
        "wallet_id": view.wallet.wallet.id,
        "party_id": view.wallet.wallet.party_id,
        "platform_id": view.record.platform_id,
        "owner_type": view.record.owner_type,
        "owner_id": view.record.owner_id,
        "captured_minor": view.captured_minor,
        "returned_minor": view.returned_minor,
        "created_at": view.pending.created_at,
        "expires_at": view.pending.expires_at,
        "resolved_at": view.resolved_at,
    }


def wallet_summary(view: wallets_service.WalletView) -> dict[str, object]:
    """The wallet's named facts and its money now (``WalletSummary``)."""
    wallet = view.wallet
    return {
        "id": wallet.id,
        "party_id": wallet.party_id,
        "platform_id": wallet.platform_id,
        "currency": wallet.currency,
        "balance_minor": view.balance_minor,
        "held_minor": view.held_minor,
        "available_minor": view.available_minor,
        "account_id": wallet.account_id,
        "holds_account_id": wallet.holds_account_id,
        "created_at": wallet.created_at,
    }
