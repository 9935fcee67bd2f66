"""A party's financial summary (the talent's dashboard numbers): per currency,
its wallet's money now, what its escrows hold for it now and when the next
milestone is released, and what was released to it, paid out and paid in
fees in one calendar month (UTC).

It lives here, in the highest of the domains it reads (wallets, the payouts'
holds in them, escrows), so that the import contracts prove its direction;
the wallets give their part through ``wallets_service.party_months``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.escrow import repository
from sika.wallets import service as wallets_service


@dataclass(frozen=True)
class CurrencySummary:
    currency: str
    balance_minor: int
    held_minor: int
    available_minor: int
    escrow_pending_minor: int
    next_release_at: datetime | None
    received_this_month_minor: int
    released_this_month_minor: int
    paid_out_this_month_minor: int
    fees_paid_this_month_minor: int


@dataclass(frozen=True)
class PartySummary:
    party_id: str
    platform_id: str
    month: str
    month_start: datetime
    currencies: list[CurrencySummary]


def month_bounds(month: str | None, *, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of ``month`` (``YYYY-MM``, already checked by the
    route), or of the month ``now`` is in."""
    if month is None:
        start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


async def party_summary(
    session: AsyncSession, *, party_id: str, month: str | None, actor: Actor, now: datetime
) -> PartySummary:
    """The party's summary for ``month`` (the current one by default): balances as
    at ``now``, flows within the month. A currency appears when the party has a
    wallet in it (an escrow needs one of the beneficiary's, so that covers them)."""
    since, until = month_bounds(month, now=now)
    party, wallets = await wallets_service.party_months(
        session, party_id=party_id, actor=actor, since=since, until=until, now=now
    )
    escrows = await repository.beneficiary_totals(session, party_id=party.id, since=since, until=until)
    currencies = []
    for wallet in wallets:
        escrow = escrows.get(wallet.currency) or repository.BeneficiaryTotals(wallet.currency)
        currencies.append(
            CurrencySummary(
                currency=wallet.currency,
                balance_minor=wallet.balance_minor,
                held_minor=wallet.held_minor,
                available_minor=wallet.available_minor,
                escrow_pending_minor=escrow.held_minor,
                next_release_at=escrow.next_release_at,
                received_this_month_minor=wallet.received_minor,
                released_this_month_minor=escrow.released_minor,
                paid_out_this_month_minor=wallet.paid_out_minor,
                fees_paid_this_month_minor=wallet.fees_paid_minor + escrow.fees_minor,
            )
        )
    return PartySummary(
        party_id=party.id,
        platform_id=party.platform_id,
        month=f"{since.year:04d}-{since.month:02d}",
        month_start=since,
        currencies=currencies,
    )
