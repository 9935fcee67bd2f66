"""Plans: creating one (explicit instalments or a schedule), reading them, and the
platform ending a plan or one instalment (cancelled or stopped, with a reason)."""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import ids, paging
from sika.core.context import Actor
from sika.instalments import repository, schemas
from sika.instalments.models import Instalment, InstalmentPlan
from sika.instalments.service import announce
from sika.instalments.service.access import PlanView, locked, readable_plan, require_open
from sika.instalments.service.errors import (
    InstalmentsDoNotAddUp,
    PlanPartiesInvalid,
    PlanPartyHasNoWallet,
    PlanStateConflict,
)
from sika.instalments.states import OPEN, Ending, InstalmentStatus, PlanStatus
from sika.parties import service as parties_service
from sika.wallets import service as wallets_service


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def scheduled(body: schemas.PlanCreate) -> list[tuple[date, int]]:
    """(due date, amount) of each instalment, in order; their sum checked against the total."""
    if body.instalments is not None:
        wanted = [(i.due_on, i.amount_minor) for i in body.instalments]
        if sum(amount for _, amount in wanted) != body.total_minor:
            raise InstalmentsDoNotAddUp(
                f"The instalments add up to {sum(a for _, a in wanted)}, not the total {body.total_minor}."
            )
        if any(later[0] < earlier[0] for earlier, later in itertools.pairwise(wanted)):
            raise InstalmentsDoNotAddUp("The instalments' due dates must not go backwards.")
        return wanted
    schedule = body.schedule
    assert schedule is not None, "the schema asks for one of the two"
    share, left = divmod(body.total_minor, schedule.count)
    if share == 0:
        raise InstalmentsDoNotAddUp(f"A total of {body.total_minor} cannot be split into {schedule.count} instalments.")
    dates = [
        _add_months(schedule.first_due_on, n * schedule.interval_months)
        if schedule.interval_months
        else schedule.first_due_on + timedelta(days=n * (schedule.interval_days or 0))
        for n in range(schedule.count)
    ]
    return [(due, share + (1 if n < left else 0)) for n, due in enumerate(dates)]


async def _wallet_of(session: AsyncSession, *, party_id: str, currency: str, actor: Actor) -> str:
    found = await wallets_service.party_wallet_id(session, party_id=party_id, currency=currency, actor=actor)
    if found is None:
        raise PlanPartyHasNoWallet(f"Party {party_id} has no {currency} wallet: open it first.")
    return found


async def create_plan(session: AsyncSession, *, body: schemas.PlanCreate, actor: Actor, now: datetime) -> PlanView:
    """A plan and its instalments, ``active``; the first due date may be today or later."""
    if body.payee_party_id == body.payer_party_id:
        raise PlanPartiesInvalid()
    payer = await parties_service.get_party(session, party_id=body.payer_party_id, actor=actor)
    if body.payee_party_id is not None:
        payee = await parties_service.get_party(session, party_id=body.payee_party_id, actor=actor)
        if payee.platform_id != payer.platform_id:
            raise PlanPartiesInvalid()
    wanted = scheduled(body)
    plan = InstalmentPlan(
        id=ids.new_id("inp"),
        platform_id=payer.platform_id,
        payer_party_id=payer.id,
        payer_wallet_id=await _wallet_of(session, party_id=payer.id, currency=body.currency, actor=actor),
        payee_party_id=body.payee_party_id,
        payee_wallet_id=(
            await _wallet_of(session, party_id=body.payee_party_id, currency=body.currency, actor=actor)
            if body.payee_party_id
            else None
        ),
        currency=body.currency,
        total_minor=body.total_minor,
        instalment_count=len(wanted),
        status=PlanStatus.active.value,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, plan)
    instalments = [
        Instalment(
            id=ids.new_id("ins"),
            plan_id=plan.id,
            platform_id=plan.platform_id,
            number=number,
            due_on=due_on,
            amount_minor=amount,
            status=InstalmentStatus.scheduled.value,
            created_at=now,
            updated_at=now,
        )
        for number, (due_on, amount) in enumerate(wanted, start=1)
    ]
    await repository.add(session, *instalments)
    data = {"total_minor": plan.total_minor, "currency": plan.currency, "instalments": len(instalments)}
    await announce.plan_event(session, plan, "plan.created", now=now, data=data)
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment_plan",
        entity_id=plan.id,
        action="plan.created",
        actor=actor,
        data=data,
    )
    return PlanView(plan=plan, instalments=instalments)


async def get_plan(session: AsyncSession, *, plan_id: str, actor: Actor) -> PlanView:
    plan = await readable_plan(session, plan_id=plan_id, actor=actor)
    return PlanView(plan=plan, instalments=await repository.instalments_of(session, [plan.id]))


async def list_plans(
    session: AsyncSession, *, party_id: str | None, status: PlanStatus | None, page: paging.Page, actor: Actor
) -> list[PlanView]:
    """Newest first; a party token sees the plans its party pays or is paid by."""
    if actor.is_party:
        if party_id is not None and party_id != actor.party_id:
            raise parties_service.NotOwnedByParty()
        party_id = actor.party_id
    plans = await repository.list_plans(session, party_id=party_id, status=status.value if status else None, page=page)
    instalments = await repository.instalments_of(session, [plan.id for plan in plans])
    return [PlanView(plan=p, instalments=[i for i in instalments if i.plan_id == p.id]) for p in plans]


async def complete_if_done(
    session: AsyncSession, plan: InstalmentPlan, instalments: list[Instalment], *, actor: Actor, now: datetime
) -> None:
    """An active plan none of whose instalments is open any more is ``completed`` (``plan.completed``)."""
    if plan.status != PlanStatus.active.value or any(InstalmentStatus(i.status) in OPEN for i in instalments):
        return
    plan.status = PlanStatus.completed.value
    plan.updated_at = plan.ended_at = now
    await session.flush()
    paid = sum(1 for i in instalments if i.status == InstalmentStatus.paid.value)
    await announce.plan_event(session, plan, "plan.completed", now=now, data={"paid_instalments": paid})
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment_plan",
        entity_id=plan.id,
        action="plan.completed",
        actor=actor,
        data={"paid_instalments": paid},
    )


async def _end(
    session: AsyncSession, plan: InstalmentPlan, instalment: Instalment, ending: Ending, *, reason: str, now: datetime
) -> None:
    instalment.status = ending.instalment_status.value
    instalment.end_reason = reason
    instalment.updated_at = now
    await session.flush()
    await announce.event(session, plan, instalment, f"instalment.{instalment.status}", now=now, data={"reason": reason})


async def end_instalment(
    session: AsyncSession, *, instalment_id: str, ending: Ending, reason: str, actor: Actor, now: datetime
) -> PlanView:
    """Cancel or stop one open instalment with no payment in flight."""
    instalment, plan = await locked(session, instalment_id=instalment_id, actor=actor)
    await require_open(session, instalment, action=ending.value)
    await _end(session, plan, instalment, ending, reason=reason, now=now)
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment",
        entity_id=instalment.id,
        action=f"instalment.{instalment.status}",
        actor=actor,
        data={"reason": reason, "plan_id": plan.id},
    )
    instalments = await repository.instalments_of(session, [plan.id])
    await complete_if_done(session, plan, instalments, actor=actor, now=now)
    return PlanView(plan=plan, instalments=instalments)


async def end_plan(
    session: AsyncSession, *, plan_id: str, ending: Ending, reason: str, actor: Actor, now: datetime
) -> PlanView:
    """Cancel or stop an active plan: each instalment still open ends the same way (none may
    have a payment in flight); those paid stay paid."""
    plan = await readable_plan(session, plan_id=plan_id, actor=actor, for_update=True)
    if plan.status != PlanStatus.active.value:
        raise PlanStateConflict(f"Plan {plan.id} is {plan.status}: cannot {ending.value} it.", status=plan.status)
    instalments = await repository.instalments_of(session, [plan.id], for_update=True)
    still_open = [i for i in instalments if InstalmentStatus(i.status) in OPEN]
    for instalment in still_open:
        await require_open(session, instalment, action=f"{ending.value} plan {plan.id}")
    for instalment in still_open:
        await _end(session, plan, instalment, ending, reason=reason, now=now)
    plan.status = ending.plan_status.value
    plan.end_reason = reason
    plan.updated_at = plan.ended_at = now
    await session.flush()
    data = {"reason": reason, "instalments_ended": [i.id for i in still_open]}
    await announce.plan_event(session, plan, f"plan.{plan.status}", now=now, data=data)
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment_plan",
        entity_id=plan.id,
        action=f"plan.{plan.status}",
        actor=actor,
        data=data,
    )
    return PlanView(plan=plan, instalments=instalments)


async def overdue_list(session: AsyncSession, *, limit: int) -> list[tuple[Instalment, InstalmentPlan]]:
    """Overdue instalments with their plans, the longest overdue first (what operators chase)."""
    return await repository.overdue(session, limit=limit)


OVERVIEW_SHOWN = 50
"""Plans and overdue instalments the operators' page shows, newest plans and oldest debts first."""


@dataclass(frozen=True)
class Overview:
    plans: list[PlanView]
    overdue: list[tuple[Instalment, InstalmentPlan]]


async def operator_overview(session: AsyncSession, *, limit: int = OVERVIEW_SHOWN) -> Overview:
    """What operators watch: the newest plans with their instalments and states, and the overdue list."""
    plans = await repository.list_plans(session, party_id=None, status=None, page=paging.Page(limit=limit))
    instalments = await repository.instalments_of(session, [plan.id for plan in plans])
    views = [PlanView(plan=p, instalments=[i for i in instalments if i.plan_id == p.id]) for p in plans]
    return Overview(plans=views, overdue=await repository.overdue(session, limit=limit))
