"""Who may see a plan and its instalments, and the locked reads every mutation starts with.

An API key with the route's scope acts for the platform (the router checks the scope;
the session's platform filter hides other platforms' plans). A party token reaches only
the plans its party pays or is paid by, and pays only as the payer. Every mutation
locks the plan, then the instalment (``SELECT … FOR UPDATE``), then ledger accounts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core.context import Actor
from sika.instalments import repository
from sika.instalments.models import Instalment, InstalmentPlan
from sika.instalments.service.errors import (
    InstalmentActionNotAllowed,
    InstalmentAlreadyPaid,
    InstalmentNotFound,
    InstalmentNotPayable,
    InstalmentPaymentInFlight,
    PlanNotFound,
)
from sika.instalments.states import InstalmentStatus
from sika.parties import service as parties_service


@dataclass(frozen=True)
class PlanView:
    plan: InstalmentPlan
    instalments: list[Instalment]


def check_reader(actor: Actor, plan: InstalmentPlan) -> None:
    """A party token sees only the plans its party is in."""
    if actor.is_party and actor.party_id not in (plan.payer_party_id, plan.payee_party_id):
        raise parties_service.NotOwnedByParty()


def check_payer(actor: Actor, plan: InstalmentPlan) -> None:
    """A party token pays only as the payer; an API key pays for the platform."""
    check_reader(actor, plan)
    if actor.is_party and actor.party_id != plan.payer_party_id:
        raise InstalmentActionNotAllowed(f"Only the payer (or the platform) pays the instalments of plan {plan.id}.")


async def readable_plan(
    session: AsyncSession, *, plan_id: str, actor: Actor, for_update: bool = False
) -> InstalmentPlan:
    plan = await repository.get_plan(session, plan_id, for_update=for_update)
    if plan is None:
        raise PlanNotFound()
    check_reader(actor, plan)
    return plan


async def readable(session: AsyncSession, *, instalment_id: str, actor: Actor) -> tuple[Instalment, InstalmentPlan]:
    instalment = await repository.get_instalment(session, instalment_id)
    if instalment is None:
        raise InstalmentNotFound()
    plan = await repository.get_plan(session, instalment.plan_id)
    assert plan is not None, "a foreign key keeps the plan"
    check_reader(actor, plan)
    return instalment, plan


async def locked(session: AsyncSession, *, instalment_id: str, actor: Actor) -> tuple[Instalment, InstalmentPlan]:
    """The instalment and its plan, both locked until the transaction ends (plan first)."""
    instalment, _ = await readable(session, instalment_id=instalment_id, actor=actor)
    plan = await repository.get_plan(session, instalment.plan_id, for_update=True)
    locked_instalment = await repository.get_instalment(session, instalment_id, for_update=True)
    assert plan is not None, "a foreign key keeps the plan"
    assert locked_instalment is not None, "it was read a moment ago and instalments are never deleted"
    return locked_instalment, plan


async def require_open(session: AsyncSession, instalment: Instalment, *, action: str) -> None:
    """Refuse (409, naming why) unless the (locked) instalment is open with no payment in flight."""
    status = InstalmentStatus(instalment.status)
    if status in (InstalmentStatus.cancelled, InstalmentStatus.stopped):
        raise InstalmentNotPayable(
            f"Instalment {instalment.id} is {status.value}: cannot {action}.", status=status.value
        )
    if status is InstalmentStatus.paid:
        paid = await repository.succeeded_payment(session, instalment.id)
        raise InstalmentAlreadyPaid(
            f"Instalment {instalment.id} is paid (payment {paid.id if paid else 'unknown'}): cannot {action}.",
            payment_id=paid.id if paid else None,
        )
    pending = await repository.pending_payment(session, instalment.id)
    if pending is not None:
        raise InstalmentPaymentInFlight(
            f"Payment {pending.id} of instalment {instalment.id} is in flight"
            f" (collection {pending.collection_id}): cannot {action}.",
            payment_id=pending.id,
            collection_id=pending.collection_id,
        )
