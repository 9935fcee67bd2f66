"""What the operator-actions page reads about one object (collection, payout, hold, wallet,
party): its state, its open alerts and its audit rows with their reasons, through the
domains' services, in the session of the platform in view (another platform's object is
not found)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.audit import service as audit_service
from sika.core import paging
from sika.core.context import Actor
from sika.dashboard import read
from sika.parties import service as parties_service
from sika.payments import service as payments_service
from sika.payments.states import COLLECTION_STATES, PAYOUT_STATES
from sika.wallets import service as wallets_service

AUDIT_SHOWN = 20
"""The newest audit rows the page lists about the object."""


class Plural(StrEnum):
    """The objects that have actions, as the dashboard's addresses name them."""

    collections = "collections"
    payouts = "payouts"
    holds = "holds"
    wallets = "wallets"
    parties = "parties"

    @property
    def kind(self) -> str:
        """The object's kind as alerts and audit rows name it (``collection``...)."""
        return "party" if self is Plural.parties else self.value[:-1]

    @property
    def payment(self) -> payments_service.PaymentKind | None:
        """The payment kind, for what reconciliation can ask its provider about."""
        return {
            Plural.collections: payments_service.PaymentKind.collection,
            Plural.payouts: payments_service.PaymentKind.payout,
        }.get(self)


@dataclass(frozen=True)
class Summary:
    status: str | None
    amount_minor: int | None
    currency: str | None
    is_open: bool
    """A collection or payout not final yet: reconciliation may still ask its provider."""


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    reason: str | None
    outcome: str | None
    status: str | None


@dataclass(frozen=True)
class ObjectActions:
    plural: Plural
    object_id: str
    summary: Summary
    open_alerts: tuple[read.AlertRow, ...]
    audit: tuple[AuditRow, ...]


_FINAL = frozenset(state.value for state in (*COLLECTION_STATES.final, *PAYOUT_STATES.final))


class _AuditEvent(Protocol):
    """What the page shows of an audit row."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


async def summary(session: AsyncSession, plural: Plural, object_id: str, *, actor: Actor, now: datetime) -> Summary:
    """The object's state; ``errors.NotFound`` when the session does not see it."""
    if plural is Plural.collections or plural is Plural.payouts:
        row = (
            await payments_service.get_collection(session, collection_id=object_id, actor=actor)
            if plural is Plural.collections
            else await payments_service.get_payout(session, payout_id=object_id, actor=actor)
        )
        return Summary(row.status, row.amount_minor, row.currency, is_open=row.status not in _FINAL)
    if plural is Plural.holds:
        hold = await wallets_service.get_hold(session, hold_id=object_id, actor=actor, now=now)
        return Summary(hold.status.value, hold.pending.amount_minor, hold.wallet.wallet.currency, is_open=False)
    if plural is Plural.wallets:
        wallet = await wallets_service.get_wallet(session, wallet_id=object_id, actor=actor, now=now)
        return Summary(None, wallet.available_minor, wallet.wallet.currency, is_open=False)
    await parties_service.get_party(session, party_id=object_id, actor=actor)
    return Summary(None, None, None, is_open=False)


def _audit_row(event: _AuditEvent) -> AuditRow:
    def text(name: str) -> str | None:
        value = event.data.get(name)
        return value if isinstance(value, str) else None

    return AuditRow(
        at=event.created_at,
        actor=event.actor,
        action=event.action,
        reason=text("reason"),
        outcome=text("outcome"),
        status=text("status"),
    )


async def object_actions(
    session: AsyncSession, plural: Plural, object_id: str, *, actor: Actor, now: datetime
) -> ObjectActions:
    state = await summary(session, plural, object_id, actor=actor, now=now)
    audit = await audit_service.list_events(
        session, entity_type=plural.kind, entity_id=object_id, page=paging.Page(limit=AUDIT_SHOWN)
    )
    return ObjectActions(
        plural=plural,
        object_id=object_id,
        summary=state,
        open_alerts=tuple(
            read.AlertRow(
                id=alert.id,
                seq=alert.seq,
                kind=alert.kind,
                severity=alert.severity,
                message=alert.message,
                entity_type=alert.entity_type,
                entity_id=alert.entity_id,
                created_at=alert.created_at,
                acknowledged_at=alert.acknowledged_at,
                acknowledged_by=alert.acknowledged_by,
            )
            for alert in await alerts_service.open_about(session, entity_type=plural.kind, entity_id=object_id)
        ),
        audit=tuple(_audit_row(event) for event in audit),
    )
