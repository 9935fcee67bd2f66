"""A collection's or a payout's story, in order, from what Sika already records: its state
changes with their cause (the audit rows its flow writes with each one: who,
which request, and whether the API, a webhook or reconciliation brought the
news), the webhooks that named it (signature verified, since only those are
stored; whether it changed anything or was news already known; attempts and
the last error), the ledger transfers that moved its money, its alerts and
other audit rows, and when reconciliation last asked the provider.

Only named fields are copied out of the rows, never a whole row or a webhook's
body: a body may carry card data (Paystack's reusable authorization), and a
row may gain a secret column later without anyone thinking of this page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts.models import Alert
from sika.audit.models import AuditEvent
from sika.core.context import Actor
from sika.ledger.models import Transfer
from sika.payments import service as payments_service
from sika.payments.models import Collection, Payout
from sika.search import repository
from sika.webhooks.models import InboundEvent

SHOWN_AUDIT_DATA = ("status", "provider", "source", "detail", "after", "amount_minor", "give_up_after_seconds")
"""What of an audit row's ``data`` a timeline shows: the flow's own words, no caller input."""
MAX_ERROR_CHARS = 500
"""A webhook's last error is cut here: it is for a person to read, not a log."""
_ORDER = {"webhook_received": 0, "state_change": 1, "alert": 2, "audit": 3, "provider_checked": 4}
"""Among entries of the same instant: the news, what it changed, what it raised."""


@dataclass(frozen=True)
class Cause:
    actor: str
    """``key:…`` (an API call), ``party:…``, ``system:<job>`` (the webhook worker, reconciliation), ``cli``."""
    request_id: str | None
    source: str | None
    """Where the news came from: ``api``, ``webhook`` or ``reconciliation``, when the flow said."""


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    """``state_change``, ``webhook_received``, ``ledger_transfer``, ``alert``, ``audit`` or ``provider_checked``."""
    id: str | None = None
    """The row it comes from: a webhook event, transfer or alert id (audit rows have none)."""
    state: str | None = None
    action: str | None = None
    cause: Cause | None = None
    details: dict[str, Any] = field(default_factory=dict)


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
    return Timeline(collection=collection, entries=_with_transfers(entries, placed))


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
    return PayoutTimeline(payout=payout, entries=_with_transfers(entries, placed))


async def _story(session: AsyncSession, entity_type: str, row: Collection | Payout) -> list[Entry]:
    """Its audit rows, the webhooks that named it, its alerts and its last check, in order."""
    entries = [
        _audit_entry(audit) for audit in await repository.audit_rows(session, entity_type=entity_type, entity_id=row.id)
    ]
    entries += [_webhook_entry(event) for event in await repository.webhook_events_naming(session, reference=row.id)]
    entries += [
        _alert_entry(alert)
        for alert in await repository.alerts_about(session, entity_type=entity_type, entity_id=row.id)
    ]
    if row.last_checked_at is not None:
        entries.append(Entry(at=row.last_checked_at, kind="provider_checked", details={"provider": row.provider}))
    # Stable: rows of the same instant keep the order their table wrote them in.
    return sorted(entries, key=lambda entry: (entry.at, _ORDER[entry.kind]))


def _with_transfers(entries: list[Entry], placements: list[Placement]) -> list[Entry]:
    """``entries`` with each placement's transfers right after the first change to one of its
    states (at the end when there is none). Not by their time: a flow stamps its transfers with
    the request's clock, and its audit row with the database's at the start of the
    transaction, which may come later."""
    waiting = list(placements)
    placed: list[Entry] = []
    for entry in entries:
        placed.append(entry)
        for placement in [one for one in waiting if entry.kind == "state_change" and entry.state in one[0]]:
            placed += [_transfer_entry(transfer) for transfer in placement[1]]
            waiting.remove(placement)
    return placed + [_transfer_entry(transfer) for _, transfers in waiting for transfer in transfers]


def _audit_entry(row: AuditEvent) -> Entry:
    data = {name: row.data[name] for name in SHOWN_AUDIT_DATA if name in row.data}
    status = row.data.get("status")
    changed = isinstance(status, str) and row.action == f"{row.entity_type}.{status}"
    return Entry(
        at=row.created_at,
        kind="state_change" if changed else "audit",
        state=status if changed else None,
        action=row.action,
        cause=Cause(actor=row.actor, request_id=row.request_id, source=data.get("source")),
        details=data,
    )


def _webhook_entry(event: InboundEvent) -> Entry:
    return Entry(
        at=event.received_at,
        kind="webhook_received",
        id=event.id,
        state=event.status,
        details={
            "provider": event.provider,
            "provider_event_id": event.event_id,
            "event_type": event.event_type,
            "signature": "verified",
            "outcome": event.outcome,
            "duplicate": event.outcome == "unchanged",
            "attempts": event.attempts,
            "last_error": event.last_error[:MAX_ERROR_CHARS] if event.last_error else None,
            "processed_at": event.processed_at.isoformat() if event.processed_at else None,
        },
    )


def _transfer_entry(transfer: Transfer) -> Entry:
    return Entry(
        at=transfer.created_at,
        kind="ledger_transfer",
        id=transfer.id,
        details={
            "transfer_kind": transfer.kind,
            "code": transfer.code,
            "amount_minor": transfer.amount_minor,
            "currency": transfer.currency,
            "debit_account_id": transfer.debit_account_id,
            "credit_account_id": transfer.credit_account_id,
        },
    )


def _alert_entry(alert: Alert) -> Entry:
    return Entry(
        at=alert.created_at,
        kind="alert",
        id=alert.id,
        state="acknowledged" if alert.acknowledged_at else "open",
        action=alert.kind,
        details={"severity": alert.severity, "message": alert.message, "acknowledged_by": alert.acknowledged_by},
    )
