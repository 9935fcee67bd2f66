"""Search (``finding``: any object by what a customer or an integrator knows) and
the timeline of one object, from what Sika records: a collection's or a payout's
(``timeline``), a hold's, a wallet's or a party's (``holdings``), all made of
``entries``."""

from sika.search.service.entries import Cause, Entry
from sika.search.service.finding import (
    ID_KINDS,
    LIMIT_PER_KIND,
    MAX_QUERY_LENGTH,
    MIN_PHONE_DIGITS,
    Group,
    Hit,
    Results,
    phone_keys,
    read_query,
    search,
    window,
)
from sika.search.service.holdings import (
    DEFAULT_TIMELINE_LIMIT,
    MAX_TIMELINE_LIMIT,
    HoldTimeline,
    PartyTimeline,
    WalletTimeline,
    hold_summary,
    hold_timeline,
    party_timeline,
    wallet_summary,
    wallet_timeline,
)
from sika.search.service.timeline import PayoutTimeline, Timeline, collection_timeline, payout_timeline

__all__ = [
    "DEFAULT_TIMELINE_LIMIT",
    "ID_KINDS",
    "LIMIT_PER_KIND",
    "MAX_QUERY_LENGTH",
    "MAX_TIMELINE_LIMIT",
    "MIN_PHONE_DIGITS",
    "Cause",
    "Entry",
    "Group",
    "Hit",
    "HoldTimeline",
    "PartyTimeline",
    "PayoutTimeline",
    "Results",
    "Timeline",
    "WalletTimeline",
    "collection_timeline",
    "hold_summary",
    "hold_timeline",
    "party_timeline",
    "payout_timeline",
    "phone_keys",
    "read_query",
    "search",
    "wallet_summary",
    "wallet_timeline",
    "window",
]
