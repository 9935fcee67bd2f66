"""What an instalment asks for: its base, less the promo code's discount and the manual
reductions, in integer minor units.

A percent is taken of the base and rounded half-up to the currency's minor unit (amounts
are in minor units already, so the exponent — 0 for XOF, 2 for EUR — is in the unit):
``(base × bps + 5000) // 10000``. The final is never below 0 and never above the base.
Manual reductions are granted by ``support`` or ``admin``, or by the platform's own key
when its settings allow it (``instalment_reductions_by_platform``); each is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.auth.scopes import Scope
from sika.core import ids
from sika.core.context import Actor
from sika.instalments import repository, schemas
from sika.instalments.models import Instalment, InstalmentPlan, InstalmentReduction
from sika.instalments.service import announce
from sika.instalments.service.access import locked, readable, require_open
from sika.instalments.service.errors import InstalmentActionNotAllowed
from sika.instalments.states import ReductionKind
from sika.platforms import service as platforms_service
from sika.promos import service as promos_service
from sika.promos.models import PromoCode

BPS = 10_000


def percent_of(base_minor: int, bps: int) -> int:
    """``bps`` hundredths of a percent of ``base_minor``, half-up to the minor unit."""
    return (base_minor * bps + BPS // 2) // BPS


@dataclass(frozen=True)
class Due:
    base_minor: int
    promo: PromoCode | None
    """The promo code checked (``promos_service.check_code``) before any amount was computed."""
    discount_minor: int
    reduction_minor: int

    @property
    def promo_code(self) -> str | None:
        return self.promo.code if self.promo else None

    @property
    def final_minor(self) -> int:
        return max(0, self.base_minor - self.discount_minor - self.reduction_minor)


def reduction_of(base_minor: int, reductions: list[InstalmentReduction]) -> int:
    """What the manual reductions take off, at most the base."""
    total = 0
    for reduction in reductions:
        if reduction.kind == ReductionKind.fixed.value:
            total += reduction.amount_minor or 0
        else:
            total += percent_of(base_minor, reduction.percent_bps or 0)
    return min(total, base_minor)


async def due_of(
    session: AsyncSession, instalment: Instalment, plan: InstalmentPlan, *, promo_code: str | None, now: datetime
) -> Due:
    """The amount due now. A promo code is checked first (an invalid, inactive, not yet valid,
    expired, exhausted or inapplicable one is a 422 naming which), before any amount is computed."""
    promo = None
    if promo_code is not None:
        promo = await promos_service.check_code(
            session,
            platform_id=plan.platform_id,
            code=promo_code,
            party_id=plan.payer_party_id,
            currency=plan.currency,
            plan_id=plan.id,
            at=now,
        )
    reductions = await repository.reductions(session, instalment.id)
    discount = 0
    if promo is not None:
        discount = promos_service.discount_minor(promo, base_minor=instalment.amount_minor, currency=plan.currency)
    return Due(
        base_minor=instalment.amount_minor,
        promo=promo,
        discount_minor=discount,
        reduction_minor=reduction_of(instalment.amount_minor, reductions),
    )


async def amount_due(
    session: AsyncSession, *, instalment_id: str, promo_code: str | None, actor: Actor, now: datetime
) -> tuple[Instalment, InstalmentPlan, Due]:
    instalment, plan = await readable(session, instalment_id=instalment_id, actor=actor)
    return instalment, plan, await due_of(session, instalment, plan, promo_code=promo_code, now=now)


def _is_operator(actor: Actor) -> bool:
    return bool({Scope.support.value, Scope.admin.value} & actor.scopes)


async def add_reduction(
    session: AsyncSession, *, instalment_id: str, body: schemas.ReductionCreate, actor: Actor, now: datetime
) -> InstalmentReduction:
    """A manual reduction on an open instalment with no payment in flight (a payment in
    flight charges the amount fixed when it started)."""
    instalment, plan = await locked(session, instalment_id=instalment_id, actor=actor)
    if not _is_operator(actor):
        platform = await platforms_service.get_platform(session, platform_id=plan.platform_id)
        if actor.is_party or not platforms_service.settings_of(platform).instalment_reductions_by_platform:
            raise InstalmentActionNotAllowed(
                "Only support or admin grants a reduction, or the platform when its settings allow it"
                " (instalment_reductions_by_platform)."
            )
    await require_open(session, instalment, action="reduce it")
    reduction = InstalmentReduction(
        id=ids.new_id("inr"),
        instalment_id=instalment.id,
        platform_id=instalment.platform_id,
        kind=body.type.value,
        amount_minor=body.amount_minor,
        percent_bps=int(body.percent * 100) if body.percent is not None else None,
        reason=body.reason,
        created_by=actor.id,
        created_at=now,
    )
    await repository.add(session, reduction)
    data = {
        "reduction_id": reduction.id,
        "type": reduction.kind,
        "amount_minor": reduction.amount_minor,
        "percent": str(body.percent) if body.percent is not None else None,
        "reason": reduction.reason,
    }
    await announce.audit(
        session,
        platform_id=plan.platform_id,
        entity_type="instalment",
        entity_id=instalment.id,
        action="instalment.reduced",
        actor=actor,
        data=data,
    )
    await announce.event(session, plan, instalment, "instalment.reduced", now=now, data=data)
    return reduction
