"""The states of a collection and of a payout, and the one machine each moves by.

Everything else derives from what is declared here: the API's status enums,
the tables' CHECK constraints (which states exist, which are final), the
partial indexes of the open rows reconciliation looks for, and the rule that
applies news under the row lock (``StateMachine.judge``).

A provider reports its own, coarser words for the same things (pending,
succeeded, failed, …): those are ``ReportedCollectionStatus`` and
``ReportedPayoutStatus``, never stored, and each flow maps them to one of
its own states before asking the machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from sika.providers.base import CollectionStatus as ReportedCollectionStatus
from sika.providers.base import PayoutStatus as ReportedPayoutStatus

__all__ = [
    "COLLECTION_STATES",
    "PAYOUT_STATES",
    "CollectionStatus",
    "PayoutStatus",
    "ReportedCollectionStatus",
    "ReportedPayoutStatus",
    "StateMachine",
    "Verdict",
]


class CollectionStatus(StrEnum):
    initiated = "initiated"
    """Recorded; the provider has not answered yet."""
    action_required = "action_required"
    """The customer must act: see ``next_action``."""
    processing = "processing"
    """The provider is working on it (or its answer was lost: reconciliation will tell)."""
    succeeded = "succeeded"
    """Collected, and the wallet credited."""
    failed = "failed"
    amount_mismatch = "amount_mismatch"
    """The provider reported another amount or currency: nothing was credited, an alert was raised."""


class PayoutStatus(StrEnum):
    initiated = "initiated"
    """Recorded and the amount held; the provider has not answered yet."""
    processing = "processing"
    succeeded = "succeeded"
    """Paid; the hold was captured."""
    failed = "failed"
    """Not paid; the hold was released."""
    reversed = "reversed"
    """Paid, then taken back by the provider: the money is back in the wallet."""


class Verdict(StrEnum):
    """What a piece of news does to a state."""

    advance = "advance"
    """It moves the state forward: apply it."""
    stale = "stale"
    """It would move an open state sideways or back (a late or out-of-order report)."""
    settled = "settled"
    """Nothing to move: no state named, or a final state it does not contradict."""
    contradiction = "contradiction"
    """It reports another final state than the one reached: an operator decides."""


Status = TypeVar("Status", CollectionStatus, PayoutStatus)


@dataclass(frozen=True)
class StateMachine(Generic[Status]):
    """One flow's states: how far along each is, which are final, and which
    moves leave a final state. News moves a state only to a higher rank."""

    states: type[Status]
    rank: Mapping[Status, int]
    final: frozenset[Status]
    reopening: frozenset[tuple[Status, Status]] = frozenset()
    """Moves out of a final state (a payout's success taken back)."""
    same_fact: frozenset[tuple[Status, Status]] = frozenset()
    """(state, reported) pairs that tell one fact: not a contradiction."""
    recovery: frozenset[tuple[Status, Status]] = frozenset()
    """Moves back between open states, made only when reconciliation learns from the
    provider a step a crash lost (it still waits for the customer's OTP): never by news."""

    def __post_init__(self) -> None:
        if set(self.rank) != set(self.states):
            raise ValueError("every state needs a rank")

    @property
    def open(self) -> tuple[Status, ...]:
        """The states reconciliation still has to finish, in declaration order."""
        return tuple(state for state in self.states if state not in self.final)

    def may_move(self, current: Status, target: Status) -> bool:
        if current in self.final:
            return (current, target) in self.reopening
        return self.rank[target] > self.rank[current]

    def may_recover(self, current: Status, target: Status) -> bool:
        return (current, target) in self.recovery

    def judge(self, current: Status, target: Status | None) -> Verdict:
        """What news that maps to ``target`` (None: to no state) does to ``current``."""
        if target is not None and self.may_move(current, target):
            return Verdict.advance
        if current not in self.final:
            return Verdict.settled if target is None else Verdict.stale
        if (
            target is not None
            and target in self.final
            and target is not current
            and (current, target) not in self.same_fact
            # A report of an earlier final state (a reversed payout's success) is history, not news.
            and self.rank[target] >= self.rank[current]
        ):
            return Verdict.contradiction
        return Verdict.settled


COLLECTION_STATES = StateMachine(
    states=CollectionStatus,
    rank={
        CollectionStatus.initiated: 0,
        CollectionStatus.action_required: 1,
        CollectionStatus.processing: 2,
        CollectionStatus.succeeded: 3,
        CollectionStatus.failed: 3,
        CollectionStatus.amount_mismatch: 3,
    },
    final=frozenset({CollectionStatus.succeeded, CollectionStatus.failed, CollectionStatus.amount_mismatch}),
    # The provider says it succeeded (with its amount): that is what was alerted.
    same_fact=frozenset({(CollectionStatus.amount_mismatch, CollectionStatus.succeeded)}),
    # A crash after the provider asked for an OTP (or a redirect, an approval) but
    # before its answer was recorded leaves the collection processing, its next step lost.
    recovery=frozenset({(CollectionStatus.processing, CollectionStatus.action_required)}),
)
"""initiated → action_required → processing → succeeded | failed | amount_mismatch;
and processing → action_required when reconciliation restores a lost next step."""

PAYOUT_STATES = StateMachine(
    states=PayoutStatus,
    rank={
        PayoutStatus.initiated: 0,
        PayoutStatus.processing: 1,
        PayoutStatus.succeeded: 2,
        PayoutStatus.failed: 2,
        PayoutStatus.reversed: 3,
    },
    final=frozenset({PayoutStatus.succeeded, PayoutStatus.failed, PayoutStatus.reversed}),
    reopening=frozenset({(PayoutStatus.succeeded, PayoutStatus.reversed)}),
)
"""initiated → processing → succeeded | failed, and succeeded → reversed."""
