"""Search (``finding``: any object by what a customer or an integrator knows) and
the timeline of one object (``timeline``: its story from what Sika records)."""

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
from sika.search.service.timeline import Cause, Entry, PayoutTimeline, Timeline, collection_timeline, payout_timeline

__all__ = [
    "ID_KINDS",
    "LIMIT_PER_KIND",
    "MAX_QUERY_LENGTH",
    "MIN_PHONE_DIGITS",
    "Cause",
    "Entry",
    "Group",
    "Hit",
    "PayoutTimeline",
    "Results",
    "Timeline",
    "collection_timeline",
    "payout_timeline",
    "phone_keys",
    "read_query",
    "search",
    "window",
]
