"""The search page's form, read into a search (``sika.search``), as an operator
types it: an amount in the currency's minor unit with spaces allowed (``25 000``),
dates as ``YYYY-MM-DD`` in UTC, the ``until`` day included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors, money
from sika.core.context import Actor
from sika.search import service as search_service

KINDS = (
    "collections",
    "payouts",
    "escrows",
    "proofs",
    "mandates",
    "transfers",
    "holds",
    "parties",
    "wallets",
    "webhook_events",
    "webhook_deliveries",
    "promo_codes",
)
"""The groups in the order the page shows them: payments first, what customers ask about."""
_AMOUNT = re.compile(r"^[0-9][0-9 \u202f\u00a0]{0,30}$")


@dataclass(frozen=True)
class Asked:
    """What the form sent, kept as typed so the page shows it back."""

    q: str = ""
    amount: str = ""
    since: str = ""
    until: str = ""

    @property
    def empty(self) -> bool:
        return not (self.q.strip() or self.amount.strip())


@dataclass(frozen=True)
class Answer:
    results: search_service.Results | None
    error: str | None
    """The message key of why nothing was searched."""


def _amount(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not _AMOUNT.match(text):
        raise ValueError(text)
    value = int(re.sub(r"\D", "", text))
    if not 0 < value <= money.MAX_AMOUNT_MINOR:
        raise ValueError(text)
    return value


def _day(text: str, *, end: bool) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    start = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    return start + timedelta(days=1, microseconds=-1) if end else start


async def run(session: AsyncSession, asked: Asked, *, actor: Actor, now: datetime) -> Answer:
    try:
        amount_minor = _amount(asked.amount)
    except ValueError:
        return Answer(None, "search.invalid_amount")
    try:
        since, until = _day(asked.since, end=False), _day(asked.until, end=True)
    except ValueError:
        return Answer(None, "search.invalid_date")
    try:
        within = search_service.window(amount_minor=amount_minor, currency=None, since=since, until=until)
        results = await search_service.search(
            session, query=asked.q if asked.q.strip() else None, within=within, actor=actor, now=now
        )
    except errors.ValidationFailed:
        return Answer(None, "search.invalid")
    return Answer(results, None)
