"""The instalments' job: every ten minutes, move instalments due and overdue and send
reminders (``sika.instalments.service.advancing``), for today in UTC."""

from __future__ import annotations

import procrastinate
import structlog

from sika.core import clock, db
from sika.core.context import system_actor
from sika.instalments import service as instalments_service
from sika.jobs import app as jobs_app

log = structlog.get_logger(__name__)

ADVANCE_TASK = "instalments.advance"
ACTOR = system_actor(ADVANCE_TASK)
MAX_BATCHES_PER_RUN = 100
"""At most this many batches per run; the next run takes the rest."""


@jobs_app.task(ADVANCE_TASK, queue="instalments", cron="*/10 * * * *")
async def advance(context: procrastinate.JobContext, timestamp: int) -> int:
    """Advance what today brings, one batch per transaction; returns how many events were written."""
    runtime = jobs_app.runtime_of(context)
    settings = runtime.settings
    written = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        now = clock.now()
        async with db.transaction(runtime.sessions) as session:
            done = await instalments_service.advance(
                session,
                today=now.date(),
                grace_days=settings.INSTALMENT_GRACE_DAYS,
                reminder_days=settings.INSTALMENT_DUE_SOON_DAYS,
                actor=ACTOR,
                now=now,
            )
        written += done.reminded + done.due + done.overdue
        if done.locked < instalments_service.ADVANCE_BATCH_SIZE:
            break
    (log.info if written else log.debug)("instalments_advanced", events=written)
    return written
