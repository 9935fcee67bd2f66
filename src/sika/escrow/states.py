"""The states of an escrow and of its milestones, and which moves each allows.

A move not listed here is refused with a 409 naming the current state, before
anything is written (``sika.escrow.service``)."""

from __future__ import annotations

from enum import StrEnum


class EscrowStatus(StrEnum):
    awaiting_funding = "awaiting_funding"
    funded = "funded"
    completed = "completed"
    """Every milestone released."""
    refunded = "refunded"
    """Every milestone refunded."""
    partially_refunded = "partially_refunded"
    """The milestones ended both ways (or one was split by an operator)."""
    cancelled = "cancelled"
    """Cancelled before it was funded; any deposit went back to the client."""


class MilestoneStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    disputed = "disputed"
    released = "released"
    refunded = "refunded"
    divided = "divided"
    """Resolved by an operator, part released and part refunded."""


class AutoPayout(StrEnum):
    """Where a released milestone's auto-payout stands (none without ``auto_payout``)."""

    due = "due"
    """Released: the payout job is deferred, in the release's transaction."""
    started = "started"
    """The payout exists (``payout_id``); the payments flow takes it from there."""
    refused = "refused"
    """The wallet refused the payout's hold (the beneficiary spent the money or is
    suspended): the money stayed in the wallet."""


FINAL_ESCROW = frozenset(
    {EscrowStatus.completed, EscrowStatus.refunded, EscrowStatus.partially_refunded, EscrowStatus.cancelled}
)
FINAL_MILESTONE = frozenset({MilestoneStatus.released, MilestoneStatus.refunded, MilestoneStatus.divided})


class MilestoneAction(StrEnum):
    deliver = "deliver"
    approve = "approve"
    dispute = "dispute"
    resolve = "resolve"
    release_due = "release_due"
    refund_due = "refund_due"


MILESTONE_MOVES: dict[MilestoneAction, MilestoneStatus] = {
    MilestoneAction.deliver: MilestoneStatus.pending,
    MilestoneAction.approve: MilestoneStatus.delivered,
    MilestoneAction.dispute: MilestoneStatus.delivered,
    MilestoneAction.resolve: MilestoneStatus.disputed,
    MilestoneAction.release_due: MilestoneStatus.delivered,
    MilestoneAction.refund_due: MilestoneStatus.pending,
}
"""Each milestone action and the one state it starts from (its escrow must be ``funded``)."""


def closing_status(milestones: list[tuple[MilestoneStatus, int, int]]) -> EscrowStatus | None:
    """The escrow's final state once every milestone has ended, from each one's
    (status, released, refunded); None while one has not."""
    if any(status not in FINAL_MILESTONE for status, _, _ in milestones):
        return None
    released = sum(moved for _, moved, _ in milestones)
    refunded = sum(back for _, _, back in milestones)
    if not refunded:
        return EscrowStatus.completed
    if not released:
        return EscrowStatus.refunded
    return EscrowStatus.partially_refunded
