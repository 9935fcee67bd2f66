"""Queueing the delivery pump (``sika.outbound.tasks``) in the transaction of what
gives it work: an endpoint registered or enabled, a retry, a replay."""

from __future__ import annotations

from procrastinate import exceptions as procrastinate_exceptions
from sqlalchemy.ext.asyncio import AsyncSession

from sika.jobs import app as jobs_app
from sika.outbound import repository

PUMP_TASK = "outbound.pump"


async def queue_pump(session: AsyncSession) -> None:
    """Queue a pump run in the session's transaction, unless one is queued already or no
    endpoint is enabled (a savepoint keeps procrastinate's refusal of a second one from
    spoiling the transaction)."""
    if not await repository.has_enabled_endpoint(session):
        return
    try:
        async with session.begin_nested():
            await jobs_app.defer(session, PUMP_TASK, queueing_lock=PUMP_TASK)
    except procrastinate_exceptions.AlreadyEnqueued:
        pass
