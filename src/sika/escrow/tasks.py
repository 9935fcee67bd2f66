"""The escrow's job: every minute, release the delivered milestones whose
``release_at`` has come and refund the pending ones past their ``deliver_by``."""

from __future__ import annotations

import procrastinate
import structlog

from sika.core import clock, db
from sika.core.context import system_actor
from sika.escrow import service as escrow_service
from sika.jobs import app as jobs_app

log = structlog.get_logger(__name__)

SETTLE_TASK = "escrow.settle_due"
ACTOR = system_actor(SETTLE_TASK)
MAX_BATCHES_PER_RUN = 100
"""At most this many batches (of ``escrow_service.DUE_BATCH_SIZE`` escrows) per run;
the next run, a minute later, takes the rest."""


@jobs_app.task(SETTLE_TASK, queue="escrow", cron="* * * * *")
async def settle_due(context: procrastinate.JobContext, timestamp: int) -> int:
    """Settle what is due, one batch per transaction; returns how many milestones moved."""
    runtime = jobs_app.runtime_of(context)
    released = refunded = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        async with db.transaction(runtime.sessions) as session:
            settled = await escrow_service.settle_due(session, now=clock.now(), actor=ACTOR)
        released += settled.released
        refunded += settled.refunded
        if settled.escrows < escrow_service.DUE_BATCH_SIZE:
            break
    # A periodic job logs at info only when it did something: an idle minute is debug noise.
    (log.info if released or refunded else log.debug)("escrow_settled", released=released, refunded=refunded)
    return released + refunded
