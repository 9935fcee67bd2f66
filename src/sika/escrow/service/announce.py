"""An escrow's events and audit rows, written in the transaction of the change they tell of."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core.context import Actor
from sika.escrow.models import Escrow
from sika.events import service as events_service


async def event(session: AsyncSession, escrow: Escrow, type: str, *, now: datetime, data: dict[str, Any]) -> None:
    """A domain event about the escrow (``escrow.<past tense>``), for its platform."""
    await events_service.emit(
        session,
        type=type,
        entity_type="escrow",
        entity_id=escrow.id,
        data={"escrow_id": escrow.id, "status": escrow.status, **data},
        platform_id=escrow.platform_id,
        now=now,
    )


async def audit(session: AsyncSession, escrow: Escrow, action: str, *, actor: Actor, data: dict[str, Any]) -> None:
    await audit_service.record(
        session,
        actor=actor,
        platform_id=escrow.platform_id,
        action=action,
        entity_type="escrow",
        entity_id=escrow.id,
        data=data,
    )
