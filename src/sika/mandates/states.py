"""The states of a mandate and which moves each allows.

A mandate is ``active`` from its creation; it ends ``consumed`` (purchases and
spends took all of it), ``expired`` (its ``expires_at`` came: the minute job
returned the remainder to the sender) or ``revoked`` (the sender or the
platform took the remainder back). Only an active mandate, not past its
expiry, takes top-ups, purchases, spends and new payees; every other move is
refused with a 409 naming the state, before anything is written."""

from __future__ import annotations

from enum import StrEnum


class MandateStatus(StrEnum):
    active = "active"
    consumed = "consumed"
    expired = "expired"
    revoked = "revoked"


FINAL_MANDATE = frozenset({MandateStatus.consumed, MandateStatus.expired, MandateStatus.revoked})
