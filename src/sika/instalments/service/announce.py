"""Instalments' and plans' events and audit rows, written in the transaction of the change they tell of."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core.context import Actor
from sika.events import service as events_service
from sika.instalments.models import Instalment, InstalmentPlan


async def plan_event(
    session: AsyncSession, plan: InstalmentPlan, type: str, *, now: datetime, data: dict[str, Any]
) -> None:
    """``plan.<past tense>``, for the plan's platform and its payer."""
    await events_service.emit(
        session,
        type=type,
        entity_type="instalment_plan",
        entity_id=plan.id,
        data={"plan_id": plan.id, "status": plan.status, **data},
        party_id=plan.payer_party_id,
        platform_id=plan.platform_id,
        now=now,
    )


async def event(
    session: AsyncSession,
    plan: InstalmentPlan,
    instalment: Instalment,
    type: str,
    *,
    now: datetime,
    data: dict[str, Any],
) -> None:
    """``instalment.<what happened>``, for the plan's platform and its payer."""
    await events_service.emit(
        session,
        type=type,
        entity_type="instalment",
        entity_id=instalment.id,
        data={
            "instalment_id": instalment.id,
            "plan_id": plan.id,
            "number": instalment.number,
            "due_on": instalment.due_on.isoformat(),
            "amount_minor": instalment.amount_minor,
            "currency": plan.currency,
            "status": instalment.status,
            **data,
        },
        party_id=plan.payer_party_id,
        platform_id=plan.platform_id,
        now=now,
    )


async def audit(
    session: AsyncSession,
    *,
    platform_id: str,
    entity_type: str,
    entity_id: str,
    action: str,
    actor: Actor,
    data: dict[str, Any],
) -> None:
    await audit_service.record(
        session,
        actor=actor,
        platform_id=platform_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data,
    )
