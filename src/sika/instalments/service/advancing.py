"""What the job does: move instalments ``scheduled`` → ``due`` on their due date and
``due`` → ``overdue`` once the grace period has passed, and remind payers some days
before (``instalment.due_soon``), one bounded batch per transaction.

The batch is locked ``FOR UPDATE SKIP LOCKED``: any number of workers take disjoint
batches, and each move is made under the row's lock from the state it starts from, so
every event is written once. A reminder is sent once per threshold crossed (7 and 2
days before: two reminders), the smallest one sent being kept on the row; an
instalment created within a threshold gets one reminder, not one per threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.instalments import repository
from sika.instalments.models import Instalment
from sika.instalments.service import announce
from sika.instalments.states import InstalmentStatus

ADVANCE_BATCH_SIZE = 100
"""Instalments moved per transaction."""


@dataclass(frozen=True)
class Advanced:
    locked: int
    """Instalments locked in this batch: fewer than the batch size means none are left."""
    reminded: int
    due: int
    overdue: int


def _reminder(instalment: Instalment, today: date, reminder_days: Sequence[int]) -> int | None:
    """The threshold (days before) to remind at now, if one is owed."""
    left = (instalment.due_on - today).days
    already = instalment.reminded_within
    owed = [d for d in reminder_days if left <= d and (already is None or d < already)]
    return min(owed) if owed and left > 0 else None


async def _move(
    session: AsyncSession,
    instalment: Instalment,
    to: InstalmentStatus,
    *,
    actor: Actor,
    now: datetime,
    data: dict[str, object],
) -> None:
    plan = await repository.get_plan(session, instalment.plan_id)
    assert plan is not None, "a foreign key keeps the plan"
    if to is not InstalmentStatus.scheduled:
        instalment.status = to.value
    instalment.updated_at = now
    await session.flush()
    kind = "instalment.due_soon" if to is InstalmentStatus.scheduled else f"instalment.{to.value}"
    await announce.event(session, plan, instalment, kind, now=now, data=data)
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment",
        entity_id=instalment.id,
        action=kind,
        actor=actor,
        data={"due_on": instalment.due_on.isoformat(), **data},
    )


async def advance(
    session: AsyncSession,
    *,
    today: date,
    grace_days: int,
    reminder_days: Sequence[int],
    actor: Actor,
    now: datetime,
    limit: int = ADVANCE_BATCH_SIZE,
) -> Advanced:
    """One batch: each instalment moved as far as ``today`` takes it, its events written once."""
    instalments = await repository.lock_advancing(
        session, today=today, grace_days=grace_days, reminder_days=reminder_days, limit=limit
    )
    reminded = due = overdue = 0
    for instalment in instalments:
        status = InstalmentStatus(instalment.status)
        threshold = _reminder(instalment, today, reminder_days) if status is InstalmentStatus.scheduled else None
        if threshold is not None:
            instalment.reminded_within = threshold
            days_left = (instalment.due_on - today).days
            await _move(session, instalment, status, actor=actor, now=now, data={"days_left": days_left})
            reminded += 1
        if status is InstalmentStatus.scheduled and instalment.due_on <= today:
            await _move(session, instalment, InstalmentStatus.due, actor=actor, now=now, data={})
            status = InstalmentStatus.due
            due += 1
        if status is InstalmentStatus.due and instalment.due_on + timedelta(days=grace_days) <= today:
            await _move(
                session, instalment, InstalmentStatus.overdue, actor=actor, now=now, data={"grace_days": grace_days}
            )
            overdue += 1
    return Advanced(locked=len(instalments), reminded=reminded, due=due, overdue=overdue)
