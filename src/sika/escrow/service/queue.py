"""What operators watch (the dashboard's escrows page): how many escrows are in each
state, the delivered milestones about to be released, and the disputes to resolve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.escrow import repository
from sika.escrow.models import Escrow, EscrowMilestone
from sika.escrow.states import EscrowStatus, MilestoneStatus

DUE_SOON_SECONDS = 24 * 3600
"""A delivered milestone released within this long is 'due soon'."""
QUEUE_SHOWN = 100
"""Milestones listed per section."""


@dataclass(frozen=True)
class QueuedMilestone:
    escrow: Escrow
    milestone: EscrowMilestone


@dataclass(frozen=True)
class OperatorQueue:
    counts: dict[str, int]
    """Escrows per state, every state named (0 where none)."""
    due_soon: list[QueuedMilestone]
    disputed: list[QueuedMilestone]


async def operator_queue(session: AsyncSession, *, now: datetime) -> OperatorQueue:
    counted = await repository.count_by_status(session)
    due = await repository.milestones_in(
        session,
        status=MilestoneStatus.delivered,
        before=now + timedelta(seconds=DUE_SOON_SECONDS),
        limit=QUEUE_SHOWN,
    )
    disputed = await repository.milestones_in(session, status=MilestoneStatus.disputed, before=None, limit=QUEUE_SHOWN)
    return OperatorQueue(
        counts={status.value: counted.get(status.value, 0) for status in EscrowStatus},
        due_soon=[QueuedMilestone(escrow=escrow, milestone=milestone) for milestone, escrow in due],
        disputed=[QueuedMilestone(escrow=escrow, milestone=milestone) for milestone, escrow in disputed],
    )
