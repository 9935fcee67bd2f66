"""The overview in business words: per platform and currency, the money in wallets
(available and on hold), in escrow, in mandates, in flight to and from the providers, and
the fees earned; and the lists behind each figure.

Every figure is read from the ledger's accounts (their posted balances on their normal
side; a wallet's money on hold is its pending debits), except what is in flight, which is
the amount of the collections and payouts not final yet (a collection's money reaches the
ledger only when it succeeds; a payout's is on hold in its wallet meanwhile, so it is
counted in both: held, and on its way out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from sika.dashboard import chart, read
from sika.escrow import service as escrow_service
from sika.ledger import repository as ledger_repository
from sika.mandates import service as mandates_service
from sika.payments import service as payments_service
from sika.wallets import service as wallets_service

LISTED = 50
"""Accounts (or payments) a figure's list shows, newest (oldest) first."""


class Figure(StrEnum):
    """A figure of the overview, as its drill-down address names it."""

    available = "available"
    held = "held"
    escrow = "escrow"
    mandates = "mandates"
    collections = "collections"
    payouts = "payouts"
    fees = "fees"


_ACCOUNT_KINDS = {
    Figure.available: wallets_service.WALLET_ACCOUNT_KIND,
    Figure.held: wallets_service.WALLET_ACCOUNT_KIND,
    Figure.escrow: escrow_service.ESCROW_ACCOUNT_KIND,
    Figure.mandates: mandates_service.MANDATE_ACCOUNT_KIND,
    Figure.fees: wallets_service.FEE_ACCOUNT_KIND,
}
"""The ledger accounts behind each figure read from the ledger."""


@dataclass
class Row:
    """One platform's money in one currency, in minor units."""

    platform_id: str | None
    currency: str
    available: int = 0
    held: int = 0
    escrow: int = 0
    mandates: int = 0
    collections: int = 0
    collections_count: int = 0
    payouts: int = 0
    payouts_count: int = 0
    fees: int = 0


async def overview(session: AsyncSession) -> tuple[Row, ...]:
    """Per platform and currency (as the session sees them), by platform then currency."""
    rows: dict[tuple[str | None, str], Row] = {}

    def row(platform_id: str | None, currency: str) -> Row:
        return rows.setdefault((platform_id, currency), Row(platform_id=platform_id, currency=currency))

    kinds = sorted(set(_ACCOUNT_KINDS.values()))
    for totals in await ledger_repository.totals_by_platform_currency_kind(session, kinds=kinds):
        found = row(totals.platform_id, totals.currency)
        if totals.kind == wallets_service.WALLET_ACCOUNT_KIND:
            found.held += totals.debits_pending
            found.available += totals.posted - totals.debits_pending
        elif totals.kind == escrow_service.ESCROW_ACCOUNT_KIND:
            found.escrow += totals.posted
        elif totals.kind == mandates_service.MANDATE_ACCOUNT_KIND:
            found.mandates += totals.posted
        else:
            found.fees += totals.posted
    flying = await payments_service.in_flight(session)
    for platform_id, currency, count, amount in flying.collections:
        found = row(platform_id, currency)
        found.collections, found.collections_count = amount, count
    for platform_id, currency, count, amount in flying.payouts:
        found = row(platform_id, currency)
        found.payouts, found.payouts_count = amount, count
    return tuple(rows[key] for key in sorted(rows, key=lambda key: (key[0] or "", key[1])))


@dataclass(frozen=True)
class Listed:
    """One line of a figure's list: an account (its owner and balance) or an open payment."""

    id: str
    owner: str | None
    amount_minor: int
    status: str | None
    created_at: datetime


async def listed(session: AsyncSession, figure: Figure, *, currency: str) -> Sequence[Listed]:
    """What one figure adds up, in ``currency``, for the platform the session is bound to."""
    if figure in (Figure.collections, Figure.payouts):
        payments = await payments_service.list_open(
            session, currency=currency, payouts=figure is Figure.payouts, limit=LISTED
        )
        return [Listed(p.id, p.party_id, p.amount_minor, p.status, p.created_at) for p in payments]
    accounts = await ledger_repository.list_accounts(
        session,
        owner_type=None,
        owner_id=None,
        currency=currency,
        kind=_ACCOUNT_KINDS[figure],
        after_seq=None,
        limit=LISTED,
        newest_first=True,
    )
    listed: list[Listed] = []
    for account in accounts:
        posted = account.credits_posted - account.debits_posted
        amount = {Figure.held: account.debits_pending, Figure.available: posted - account.debits_pending}.get(
            figure, posted
        )
        listed.append(Listed(account.id, account.owner_id, amount, None, account.created_at))
    return listed


class Measure(StrEnum):
    """What the activity chart's bars measure: the switch under it."""

    counts = "counts"
    amounts = "amounts"


@dataclass(frozen=True)
class ChartView:
    measure: Measure
    currency: str | None
    """The currency of the amounts (one at a time: amounts in two currencies do not add up)."""
    currencies: tuple[str, ...]
    """Those the switch offers: the ones the overview's figures are in."""
    days: tuple[chart.DayCount, ...]


async def chart_view(
    session: AsyncSession,
    *,
    counts: tuple[chart.DayCount, ...],
    figures: tuple[Row, ...],
    measure: str | None,
    currency: str | None,
    today: date,
) -> ChartView:
    """The chart as asked (``?chart=amounts&currency=XOF``), counts when the amounts have no currency."""
    currencies = tuple(sorted({row.currency for row in figures}))
    chosen = currency if currency in currencies else (currencies[0] if currencies else None)
    if measure != Measure.amounts.value or chosen is None:
        return ChartView(Measure.counts, chosen, currencies, counts)
    days = await read.activity_amounts(session, today=today, days=len(counts), currency=chosen)
    return ChartView(Measure.amounts, chosen, currencies, days)
