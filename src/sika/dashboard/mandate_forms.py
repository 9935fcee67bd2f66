"""The certification forms of the mandates page: certify or decertify a merchant
through the mandates service (which writes the audit row in the same transaction)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import clock, errors
from sika.core.context import Actor
from sika.mandates import service as mandates_service


class FormRefused(Exception):
    """The merchant could not be found: ``message`` is the page's i18n key."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


async def certify(session: AsyncSession, *, merchant_id: str, certified: bool, actor: Actor) -> None:
    try:
        await mandates_service.certify(
            session, merchant_id=merchant_id, certified=certified, actor=actor, now=clock.now()
        )
    except errors.NotFound:
        raise FormRefused("error.not_found", 404) from None
