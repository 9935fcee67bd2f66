"""The states of plans, instalments and their payments.

An instalment is ``scheduled`` until its due date, then ``due``, then ``overdue``
once the grace period has passed (the job, ``sika.instalments.tasks``); it is ``paid``
from either, or ended by the platform with a reason: ``cancelled`` (annulé, the
debt is void) or ``stopped`` (arrêté, no more is collected). A plan is ``active``
until every instalment is ended, then ``completed``; or ``cancelled`` / ``stopped``
as a whole, which ends every instalment still open the same way."""

from __future__ import annotations

from enum import StrEnum


class PlanStatus(StrEnum):
    active = "active"
    completed = "completed"
    cancelled = "cancelled"
    stopped = "stopped"


class InstalmentStatus(StrEnum):
    scheduled = "scheduled"
    due = "due"
    overdue = "overdue"
    paid = "paid"
    cancelled = "cancelled"
    stopped = "stopped"


OPEN = frozenset({InstalmentStatus.scheduled, InstalmentStatus.due, InstalmentStatus.overdue})
"""Still to be paid: what ``pay``, reductions, cancelling and stopping act on."""
OPEN_VALUES = tuple(sorted(s.value for s in OPEN))


class Ending(StrEnum):
    """How the platform ends an instalment or a plan (the same word for both)."""

    cancel = "cancel"
    stop = "stop"

    @property
    def instalment_status(self) -> InstalmentStatus:
        return InstalmentStatus.cancelled if self is Ending.cancel else InstalmentStatus.stopped

    @property
    def plan_status(self) -> PlanStatus:
        return PlanStatus.cancelled if self is Ending.cancel else PlanStatus.stopped


class PaymentStatus(StrEnum):
    pending = "pending"
    """A collection is in flight: the instalment takes no other payment until it ends."""
    succeeded = "succeeded"
    failed = "failed"


class PaymentMethod(StrEnum):
    wallet = "wallet"
    mobile_money = "mobile_money"
    card = "card"
    nothing_due = "nothing_due"
    """A final amount of 0: paid with no money moved and no provider called."""


class ReductionKind(StrEnum):
    fixed = "fixed"
    percent = "percent"


PAYEE_PLATFORM = "platform"
PAYEE_PARTY = "party"
