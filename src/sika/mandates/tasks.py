"""The mandates' job: every minute, expire the active mandates whose
``expires_at`` has come and return what each holds to its sender."""

from __future__ import annotations

import procrastinate
import structlog

from sika.core import clock, db
from sika.core.context import system_actor
from sika.jobs import app as jobs_app
from sika.mandates import service as mandates_service

log = structlog.get_logger(__name__)

EXPIRE_TASK = "mandates.expire_due"
ACTOR = system_actor(EXPIRE_TASK)
MAX_BATCHES_PER_RUN = 100
"""At most this many batches (of ``mandates_service.DUE_BATCH_SIZE`` mandates) per run;
the next run, a minute later, takes the rest."""


@jobs_app.task(EXPIRE_TASK, queue="mandates", cron="* * * * *")
async def expire_due(context: procrastinate.JobContext, timestamp: int) -> int:
    """Expire what is due, one batch per transaction; returns how many mandates ended."""
    runtime = jobs_app.runtime_of(context)
    ended = returned = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        async with db.transaction(runtime.sessions) as session:
            expired = await mandates_service.expire_due(session, now=clock.now(), actor=ACTOR)
        ended += expired.mandates
        returned += expired.returned_minor
        if expired.mandates < mandates_service.DUE_BATCH_SIZE:
            break
    # A periodic job logs at info only when it did something: an idle minute is debug noise.
    (log.info if ended else log.debug)("mandates_expired", mandates=ended, returned_minor=returned)
    return ended
