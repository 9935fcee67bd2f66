"""A mandate's events and audit rows, written in the transaction of the change they tell of."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core.context import Actor
from sika.events import service as events_service
from sika.mandates.models import Mandate, Merchant


async def event(
    session: AsyncSession,
    mandate: Mandate,
    type: str,
    *,
    now: datetime,
    data: dict[str, Any],
    party_id: str | None = None,
) -> None:
    """A domain event about the mandate (``mandate.<past tense>``), for its platform;
    ``party_id`` addresses it to one party (a receipt goes to the sender)."""
    await events_service.emit(
        session,
        type=type,
        entity_type="mandate",
        entity_id=mandate.id,
        data={
            "mandate_id": mandate.id,
            "status": mandate.status,
            "remaining_minor": remaining(mandate),
            "sender_party_id": mandate.sender_party_id,
            "beneficiary_party_id": mandate.beneficiary_party_id,
            **data,
        },
        party_id=party_id,
        platform_id=mandate.platform_id,
        now=now,
    )


async def audit(session: AsyncSession, mandate: Mandate, action: str, *, actor: Actor, data: dict[str, Any]) -> None:
    await audit_service.record(
        session,
        actor=actor,
        platform_id=mandate.platform_id,
        action=action,
        entity_type="mandate",
        entity_id=mandate.id,
        data=data,
    )


async def audit_merchant(
    session: AsyncSession, merchant: Merchant, action: str, *, actor: Actor, data: dict[str, Any]
) -> None:
    await audit_service.record(
        session,
        actor=actor,
        platform_id=merchant.platform_id,
        action=action,
        entity_type="merchant",
        entity_id=merchant.id,
        data=data,
    )


def remaining(mandate: Mandate) -> int:
    """What the mandate's account holds: funded, less spent and returned."""
    return mandate.funded_minor - mandate.spent_minor - mandate.returned_minor
