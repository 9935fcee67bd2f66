"""A collection's or a payout's story, in order, from what Sika already records: its state
changes with their cause (the audit rows its flow writes with each one: who,
which request, and whether the API, a webhook or reconciliation brought the
news), the webhooks that named it (signature verified, since only those are
stored; whether it changed anything or was news already known; attempts and
the last error), each request Sika sent its provider and the answer (redacted
before it was stored: ``sika.providers.calls``), the ledger transfers that moved its money with its wallet's
balance before and after each, its alerts and other audit rows, and when
reconciliation last asked the provider. Each entry is built in ``entries``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.ledger.models import Transfer
from sika.payments import service as payments_service
from sika.payments.models import Collection, Payout
from sika.search import repository
from sika.search.service.entries import (
    Balances,
    Entry,
    alert_entry,
    audit_entry,
    balances_around,
    in_order,
    provider_call_entry,
    transfer_entry,
    webhook_entry,
)
from sika.wallets import service as wallets_service


@dataclass(frozen=True)
class Timeline:
    collection: Collection
    entries: list[Entry]


@dataclass(frozen=True)
class PayoutTimeline:
    payout: Payout
    entries: list[Entry]


Placement = tuple[tuple[str, ...], list[Transfer]]
"""Transfers, and the states whose first change they come right after."""


async def collection_timeline(session: AsyncSession, *, collection_id: str, actor: Actor) -> Timeline:
    """The story of the collection ``actor`` may read (``CollectionNotFound`` otherwise)."""
    collection = await payments_service.get_collection(session, collection_id=collection_id, actor=actor)
    entries = await _story(session, "collection", collection)
    credit = [] if collection.credit_transfer_id is None else [collection.credit_transfer_id]
    placed: list[Placement] = [(("succeeded",), await repository.transfers(session, credit))]
    balances = await _wallet_balances(session, collection, placed, actor)
    return Timeline(collection=collection, entries=with_transfers(entries, placed, balances))


async def payout_timeline(session: AsyncSession, *, payout_id: str, actor: Actor) -> PayoutTimeline:
    """The story of the payout ``actor`` may read (``PayoutNotFound`` otherwise): the hold placed
    when it was initiated, its capture on success or its release on failure, and the transfer
    that gave the money back when the provider reversed it."""
    payout = await payments_service.get_payout(session, payout_id=payout_id, actor=actor)
    entries = await _story(session, "payout", payout)
    reversal = [] if payout.reversal_transfer_id is None else [payout.reversal_transfer_id]
    placed: list[Placement] = [
        (("initiated",), await repository.transfers(session, [payout.hold_id])),
        (("succeeded", "failed"), await repository.resolutions_of(session, payout.hold_id)),
        (("reversed",), await repository.transfers(session, reversal)),
    ]
    balances = await _wallet_balances(session, payout, placed, actor)
    return PayoutTimeline(payout=payout, entries=with_transfers(entries, placed, balances))


async def _wallet_balances(
    session: AsyncSession, row: Collection | Payout, placed: list[Placement], actor: Actor
) -> Balances:
    """The paying or paid wallet's money around each of its transfers."""
    wallet = await wallets_service.owned_wallet(session, wallet_id=row.wallet_id, actor=actor)
    return await balances_around(session, wallet.account_id, [one for _, some in placed for one in some])


async def _story(session: AsyncSession, entity_type: str, row: Collection | Payout) -> list[Entry]:
    """Its audit rows, the webhooks that named it, the calls Sika made to its provider, its
    alerts and its last check, in order."""
    entries = [
        audit_entry(audit) for audit in await repository.audit_rows(session, entity_type=entity_type, entity_id=row.id)
    ]
    entries += [webhook_entry(event) for event in await repository.webhook_events_naming(session, reference=row.id)]
    made = await repository.provider_calls_for(session, entity_type=entity_type, entity_id=row.id)
    entries += [provider_call_entry(call) for call in made]
    entries += [
        alert_entry(alert)
        for alert in await repository.alerts_about(session, entity_type=entity_type, entity_id=row.id)
    ]
    if row.last_checked_at is not None:
        entries.append(Entry(at=row.last_checked_at, kind="provider_checked", details={"provider": row.provider}))
    return in_order(entries)


def with_transfers(entries: list[Entry], placements: list[Placement], balances: Balances) -> list[Entry]:
    """``entries`` with each placement's transfers right after the first change to one of its
    states (at the end when there is none). Not by their time: a flow stamps its transfers with
    the request's clock, and its audit row with the database's at the start of the
    transaction, which may come later."""
    waiting = list(placements)
    placed: list[Entry] = []
    for entry in entries:
        placed.append(entry)
        for placement in [one for one in waiting if entry.kind == "state_change" and entry.state in one[0]]:
            placed += [transfer_entry(transfer, balances) for transfer in placement[1]]
            waiting.remove(placement)
    return placed + [transfer_entry(transfer, balances) for _, transfers in waiting for transfer in transfers]
