"""What every timeline is made of (collection, payout, hold, wallet, party): one
``Entry`` per thing that happened, built from the row that records it.

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
from sika.ledger import service as ledger_service
from sika.ledger.models import Transfer
from sika.payments.models import ProviderCall
from sika.providers import calls
from sika.webhooks.models import InboundEvent

SHOWN_AUDIT_DATA = (
    "status",
    "provider",
    "source",
    "detail",
    "after",
    "amount_minor",
    "captured_minor",
    "give_up_after_seconds",
    "owner_type",
    "owner_id",
)
"""What of an audit row's ``data`` a timeline shows: the flow's own words, no caller input."""
MAX_ERROR_CHARS = 500
"""A webhook's last error is cut here: it is for a person to read, not a log."""
ORDER = {"webhook_received": 0, "provider_call": 0, "state_change": 1, "alert": 2, "audit": 3, "provider_checked": 4}
"""Among entries of the same instant: the news, what it changed, what it raised."""


@dataclass(frozen=True)
class Cause:
    actor: str
    """``key:…`` (an API call), ``party:…``, ``system:<job>`` (the webhook worker, reconciliation), ``cli``."""
    request_id: str | None
    """The API request's id, or the inbound webhook event's (``whe_…``) for a change a webhook brought."""
    source: str | None
    """Where the news came from: ``api``, ``webhook`` or ``reconciliation``, when the flow said."""


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    """``state_change``, ``webhook_received``, ``ledger_transfer``, ``alert``, ``audit``,
    ``provider_checked``, ``provider_call`` or ``linked`` (an object of a party's)."""
    id: str | None = None
    """The row it comes from: a webhook event, transfer, alert or linked object's id (audit rows have none)."""
    state: str | None = None
    action: str | None = None
    cause: Cause | None = None
    details: dict[str, Any] = field(default_factory=dict)


Balances = dict[str, dict[str, Any]]
"""Per transfer id: one account's balance and held money before and after it."""


def in_order(entries: list[Entry]) -> list[Entry]:
    """Oldest first; stable, so rows of the same instant keep the order their table wrote them in."""
    return sorted(entries, key=lambda entry: (entry.at, ORDER.get(entry.kind, 5)))


def audit_entry(row: AuditEvent) -> Entry:
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


def webhook_entry(event: InboundEvent) -> Entry:
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


def transfer_entry(transfer: Transfer, balances: Balances) -> Entry:
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
            **balances.get(transfer.id, {}),
        },
    )


def provider_call_entry(call: ProviderCall) -> Entry:
    """A request Sika sent and the provider's answer, as stored (redacted before it was
    written) and redacted once more: the rule may have grown since the row was written."""
    return Entry(
        at=call.started_at,
        kind="provider_call",
        id=call.id,
        state=str(call.status_code) if call.status_code is not None else "no_answer",
        action=f"{call.method} {call.path}",
        details={
            "provider": call.provider,
            "status_code": call.status_code,
            "duration_ms": call.duration_ms,
            "error": call.error,
            "request": calls.redact(call.request),
            "response": calls.redact(call.response),
        },
    )


def alert_entry(alert: Alert) -> Entry:
    return Entry(
        at=alert.created_at,
        kind="alert",
        id=alert.id,
        state="acknowledged" if alert.acknowledged_at else "open",
        action=alert.kind,
        details={"severity": alert.severity, "message": alert.message, "acknowledged_by": alert.acknowledged_by},
    )


def balance_details(account_id: str, before: Any, after: Any) -> dict[str, Any]:
    """A wallet account's money around one transfer, from the account's totals
    (``ledger_service.Totals``): its balance (credits less debits posted) and what is held."""
    return {
        "account_id": account_id,
        "balance_before_minor": before.credits_posted - before.debits_posted,
        "balance_after_minor": after.credits_posted - after.debits_posted,
        "held_before_minor": before.debits_pending,
        "held_after_minor": after.debits_pending,
    }


async def balances_around(session: AsyncSession, account_id: str, transfers: list[Transfer]) -> Balances:
    """``account_id``'s money before and after each of ``transfers`` that moved it,
    derived from the ledger's entries (nothing stores a balance per transfer):
    the account's entry at the transfer's own ``seq`` is the transfer itself."""
    found: Balances = {}
    for transfer in transfers:
        if account_id not in (transfer.debit_account_id, transfer.credit_account_id):
            continue
        rows = await ledger_service.list_account_entries(
            session, account_id=account_id, before_seq=transfer.seq + 1, limit=1
        )
        if rows and rows[0].transfer_id == transfer.id:
            found[transfer.id] = balance_details(account_id, rows[0].before, rows[0].after)
    return found
