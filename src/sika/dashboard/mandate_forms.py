"""The certification forms of the mandates page: certify or decertify a merchant
through the mandates service (which writes the audit row in the same transaction)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import clock, errors
from sika.core.context import Actor
from sika.dashboard.escrow_forms import FormRefused
from sika.mandates import service as mandates_service


async def certify(session: AsyncSession, *, merchant_id: str, certified: bool, actor: Actor) -> None:
    try:
        await mandates_service.certify(
            session, merchant_id=merchant_id, certified=certified, actor=actor, now=clock.now()
        )
    except errors.NotFound:
        raise FormRefused("error.not_found", 404) from None
