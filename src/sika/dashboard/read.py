"""What each page shows, read through the domains' services and repositories
(never their tables) into plain values the templates can lay out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.core import invariants, paging
from sika.escrow import repository as escrow_repository
from sika.escrow import service as escrow_service
from sika.ledger import repository as ledger_repository
from sika.mandates import service as mandates_service
from sika.outbound import service as outbound_service
from sika.payments import service as payments_service
from sika.platforms import service as platforms_service
from sika.providers import base as provider_base
from sika.transfers import service as transfers_service
from sika.wallets import service as wallets_service
from sika.webhooks import repository as webhooks_repository
from sika.webhooks import schemas as webhooks_schemas
from sika.webhooks import service as webhooks_service

from . import chart

ACTIVITY_DAYS = 14
ALERTS_PAGE_SIZE = 50
STUCK_SHOWN = 200
"""Stuck collections (and payouts) listed on the page; the count covers them all."""
ESCROWS_SHOWN = escrow_service.QUEUE_SHOWN
"""Milestones listed in each section of the escrows page."""
ESCROWS_DUE_SOON_SECONDS = escrow_service.DUE_SOON_SECONDS
MANDATES_SHOWN = mandates_service.OVERVIEW_SHOWN
"""Merchants, and active mandates, listed on the mandates page."""
ATTENTION_SHOWN = 20
FRAUD_ALERT_PREFIX = "p2p.fraud."
"""The kinds of the alerts the P2P fraud rules raise (``sika.p2p.service.fraud``)."""
TRANSFERS_SHOWN = 50
"""The newest transfers between parties the transfers page lists."""
"""Failed, unmatched and rejected webhook events listed, of each."""
ATTENTION_STATUSES = (
    webhooks_schemas.EventStatus.failed,
    webhooks_schemas.EventStatus.unmatched,
    webhooks_schemas.EventStatus.rejected,
)


@dataclass(frozen=True)
class CheckRow:
    name: str
    description: str
    """The domain's own English words; the page shows its translation by ``name``."""
    breach_count: int

    @property
    def ok(self) -> bool:
        return self.breach_count == 0


@dataclass(frozen=True)
class PlatformFees:
    """What one platform's fee accounts hold, per currency (none before its first fee)."""

    platform_id: str
    name: str
    balances: tuple[wallets_service.FeeBalance, ...]


@dataclass(frozen=True)
class Overview:
    checks: tuple[CheckRow, ...] | None
    """None for an operator bound to a platform: the invariants span the whole
    installation (every platform's accounts), which is not theirs to see."""
    totals: tuple[ledger_repository.CurrencyTotals, ...]
    open_alerts: int
    stuck_collections: int
    stuck_payouts: int
    webhooks_waiting: int
    webhooks_failed: int
    activity: tuple[chart.DayCount, ...]
    fees: tuple[PlatformFees, ...]

    @property
    def ledger_ok(self) -> bool:
        return all(check.ok for check in self.checks or ())


async def overview(
    session: AsyncSession,
    *,
    now: datetime,
    stuck_after_seconds: int,
    with_checks: bool,
    fee_platforms: tuple[PlatformChoice, ...],
) -> Overview:
    """Everything in one snapshot: the invariants run first in the transaction
    (they set REPEATABLE READ), so every number on the page agrees with them.
    ``with_checks`` false leaves them out; ``fee_platforms`` are the platforms
    whose fees the page lists."""
    checks = None
    if with_checks:
        report = await invariants.check_all(session)
        checks = tuple(
            CheckRow(name=result.name, description=result.description, breach_count=result.breach_count)
            for result in report.results
        )
    # The overview shows how many, not which: the stuck page lists them.
    stuck = await payments_service.stuck(session, created_before=now - timedelta(seconds=stuck_after_seconds), limit=0)
    counts = await webhooks_repository.count_by_provider_and_status(session)
    return Overview(
        checks=checks,
        totals=tuple(await ledger_repository.totals_by_currency(session)),
        open_alerts=await alerts_service.count_open(session),
        stuck_collections=stuck.collections_total,
        stuck_payouts=stuck.payouts_total,
        webhooks_waiting=sum(c.count for c in counts if c.status == webhooks_schemas.EventStatus.received),
        webhooks_failed=sum(c.count for c in counts if c.status == webhooks_schemas.EventStatus.failed),
        activity=await activity(session, today=now.date(), days=ACTIVITY_DAYS),
        fees=tuple([await _fees(session, platform) for platform in fee_platforms]),
    )


async def _fees(session: AsyncSession, platform: PlatformChoice) -> PlatformFees:
    balances = await wallets_service.platform_fees(session, platform_id=platform.id)
    return PlatformFees(platform_id=platform.id, name=platform.name, balances=tuple(balances))


async def activity(session: AsyncSession, *, today: date, days: int) -> tuple[chart.DayCount, ...]:
    """Collections, payouts and escrows created on each of the last ``days`` UTC days, today included."""
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    collections, payouts = await payments_service.created_per_day(session, since=since)
    escrows = await escrow_repository.created_per_day(session, since=since)
    return tuple(
        chart.DayCount(
            day=day, collections=collections.get(day, 0), payouts=payouts.get(day, 0), escrows=escrows.get(day, 0)
        )
        for day in (first + timedelta(days=offset) for offset in range(days))
    )


async def activity_amounts(
    session: AsyncSession, *, today: date, days: int, currency: str
) -> tuple[chart.DayCount, ...]:
    """As ``activity``, the amounts in ``currency`` (minor units) instead of how many."""
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    collections, payouts = await payments_service.amount_per_day(session, since=since, currency=currency)
    escrows = await escrow_repository.amount_per_day(session, since=since, currency=currency)
    return tuple(
        chart.DayCount(
            day=day, collections=collections.get(day, 0), payouts=payouts.get(day, 0), escrows=escrows.get(day, 0)
        )
        for day in (first + timedelta(days=offset) for offset in range(days))
    )


@dataclass(frozen=True)
class PlatformChoice:
    id: str
    name: str


PLATFORMS_SHOWN = paging.MAX_LIMIT
"""Platforms offered in the filter (and whose fees the overview lists), newest first."""


async def platforms(session: AsyncSession) -> tuple[PlatformChoice, ...]:
    """The platforms ``session`` sees (a bound one: its own), by name."""
    found = await platforms_service.list_platforms(session, page=paging.Page(limit=PLATFORMS_SHOWN))
    return tuple(sorted((PlatformChoice(id=p.id, name=p.name) for p in found), key=lambda p: (p.name, p.id)))


async def platform(session: AsyncSession, *, platform_id: str) -> PlatformChoice | None:
    """The platform ``platform_id`` if ``session`` sees it."""
    try:
        found = await platforms_service.get_platform(session, platform_id=platform_id)
    except platforms_service.PlatformNotFound:
        return None
    return PlatformChoice(id=found.id, name=found.name)


class AlertFilter(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    all = "all"


@dataclass(frozen=True)
class AlertRow:
    id: str
    seq: int
    kind: str
    severity: str
    message: str
    entity_type: str | None
    entity_id: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class AlertsPage:
    rows: tuple[AlertRow, ...]
    older_than_seq: int | None
    """The cursor of the next page, when there may be one."""


async def alerts(session: AsyncSession, *, which: AlertFilter, before_seq: int | None) -> AlertsPage:
    is_open = {AlertFilter.open: True, AlertFilter.acknowledged: False, AlertFilter.all: None}[which]
    found = await alerts_service.list_alerts(
        session, is_open=is_open, page=paging.Page(after=before_seq, limit=ALERTS_PAGE_SIZE)
    )
    rows = tuple(
        AlertRow(
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
        for alert in found
    )
    return AlertsPage(rows=rows, older_than_seq=rows[-1].seq if len(rows) == ALERTS_PAGE_SIZE else None)


@dataclass(frozen=True)
class StuckPayment:
    id: str
    party_id: str
    provider: str | None
    """A collection has none until a provider answered."""
    status: str
    amount_minor: int
    currency: str
    created_at: datetime
    age_seconds: float
    last_checked_at: datetime | None


class _OpenPayment(Protocol):
    """What a collection and a payout have in common, as the stuck list shows it."""

    @property
    def id(self) -> str: ...
    @property
    def party_id(self) -> str: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_checked_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class StuckPayments:
    after_seconds: int
    collections: tuple[StuckPayment, ...]
    collections_total: int
    payouts: tuple[StuckPayment, ...]
    payouts_total: int


async def stuck_payments(session: AsyncSession, *, now: datetime, after_seconds: int) -> StuckPayments:
    """Collections and payouts not final ``after_seconds`` after their creation, oldest first."""
    stuck = await payments_service.stuck(
        session, created_before=now - timedelta(seconds=after_seconds), limit=STUCK_SHOWN
    )
    return StuckPayments(
        after_seconds=after_seconds,
        collections=tuple(_stuck_row(row, now=now) for row in stuck.collections),
        collections_total=stuck.collections_total,
        payouts=tuple(_stuck_row(row, now=now) for row in stuck.payouts),
        payouts_total=stuck.payouts_total,
    )


def _stuck_row(row: _OpenPayment, *, now: datetime) -> StuckPayment:
    return StuckPayment(
        id=row.id,
        party_id=row.party_id,
        provider=row.provider,
        status=row.status,
        amount_minor=row.amount_minor,
        currency=row.currency,
        created_at=row.created_at,
        age_seconds=(now - row.created_at).total_seconds(),
        last_checked_at=row.last_checked_at,
    )


@dataclass(frozen=True)
class ProviderBacklog:
    provider: str
    by_status: dict[str, int]
    """Every status of ``EventStatus``, zero included."""
    oldest_waiting_at: datetime | None

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class AttentionEvent:
    id: str
    provider: str
    event_type: str
    status: str
    reference: str | None
    attempts: int
    last_error: str | None
    received_at: datetime


@dataclass(frozen=True)
class WebhookBacklog:
    providers: tuple[ProviderBacklog, ...]
    attention: tuple[AttentionEvent, ...]
    """Newest first."""

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(status.value for status in webhooks_schemas.EventStatus)


async def webhook_backlog(session: AsyncSession) -> WebhookBacklog:
    counts = await webhooks_repository.count_by_provider_and_status(session)
    providers = []
    for provider in provider_base.ProviderName:
        mine = [c for c in counts if c.provider == provider.value]
        by_status = {status.value: 0 for status in webhooks_schemas.EventStatus}
        by_status.update({c.status: c.count for c in mine})
        waiting = [c.oldest_received_at for c in mine if c.status == webhooks_schemas.EventStatus.received]
        providers.append(
            ProviderBacklog(provider=provider.value, by_status=by_status, oldest_waiting_at=min(waiting, default=None))
        )
    attention: list[AttentionEvent] = []
    for status in ATTENTION_STATUSES:
        events = await webhooks_service.list_events(
            session, provider=None, status=status, reference=None, page=paging.Page(limit=ATTENTION_SHOWN)
        )
        attention.extend(
            AttentionEvent(
                id=event.id,
                provider=event.provider,
                event_type=event.event_type,
                status=event.status,
                reference=event.reference,
                attempts=event.attempts,
                last_error=event.last_error,
                received_at=event.received_at,
            )
            for event in events
        )
    attention.sort(key=lambda event: event.received_at, reverse=True)
    return WebhookBacklog(providers=tuple(providers), attention=tuple(attention))


async def escrows(session: AsyncSession, *, now: datetime) -> escrow_service.OperatorQueue:
    """Escrows per state, milestones released within a day, and the disputes waiting for an operator."""
    return await escrow_service.operator_queue(session, now=now)


async def mandates(session: AsyncSession) -> mandates_service.Overview:
    """Mandates per state, the merchants with their certification, the active mandates and their consumption."""
    return await mandates_service.operator_overview(session)


@dataclass(frozen=True)
class TransferRow:
    id: str
    sender_party_id: str
    recipient_party_id: str
    currency: str
    amount_minor: int
    fee_minor: int
    reference: str | None
    created_at: datetime


@dataclass(frozen=True)
class TransfersView:
    transfers: tuple[TransferRow, ...]
    fraud_alerts: tuple[AlertRow, ...]
    """Open alerts of the P2P fraud rules, newest first (at most one page of alerts is read)."""


async def transfers(session: AsyncSession) -> TransfersView:
    """The newest transfers between parties, and the fraud rules' open alerts."""
    shown = await transfers_service.recent(session, limit=TRANSFERS_SHOWN)
    rows = tuple(
        TransferRow(
            id=t.id,
            sender_party_id=t.sender_party_id,
            recipient_party_id=t.recipient_party_id,
            currency=t.currency,
            amount_minor=t.amount_minor,
            fee_minor=t.fee_minor,
            reference=t.reference,
            created_at=t.created_at,
        )
        for t in shown
    )
    open_alerts = await alerts(session, which=AlertFilter.open, before_seq=None)
    fraud = tuple(alert for alert in open_alerts.rows if alert.kind.startswith(FRAUD_ALERT_PREFIX))
    return TransfersView(transfers=rows, fraud_alerts=fraud)


async def outbound(session: AsyncSession, *, now: datetime) -> outbound_service.Watch:
    """Webhook endpoints with their failure rates, and the failing deliveries."""
    return await outbound_service.watch(session, now=now)
