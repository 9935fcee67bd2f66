"""The escrow's jobs: every minute, release the delivered milestones whose
``release_at`` has come and refund the pending ones past their ``deliver_by``;
and, deferred by each release of an escrow with ``auto_payout``, its payout."""

from __future__ import annotations

import httpx
import procrastinate
import structlog

from sika.core import clock, db, phases
from sika.core.context import system_actor
from sika.escrow import service as escrow_service
from sika.jobs import app as jobs_app
from sika.providers import registry

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


PAYOUT_ACTOR = system_actor(escrow_service.AUTO_PAYOUT_TASK)
PAYOUT_RETRY = procrastinate.RetryStrategy(max_attempts=5, exponential_wait=10)
"""An unexpected failure (the database unreachable) is tried again; a refusal is not a failure."""


@jobs_app.task(escrow_service.AUTO_PAYOUT_TASK, queue="escrow", retry=PAYOUT_RETRY)
async def auto_payout(context: procrastinate.JobContext, escrow_id: str, number: int) -> str | None:
    """Start the payout of a released milestone; returns its id, None when none was started."""
    runtime = jobs_app.runtime_of(context)
    async with httpx.AsyncClient() as client, phases.standalone(runtime.sessions) as phased:
        payout = await escrow_service.pay_out(
            phased,
            escrow_id=escrow_id,
            number=number,
            providers=registry.build_router(runtime.settings, client),
            payout_providers=runtime.settings.PAYOUT_PROVIDERS,
            actor=PAYOUT_ACTOR,
            clock=clock.now,
        )
    log.info(
        "escrow_auto_payout",
        escrow_id=escrow_id,
        number=number,
        payout_id=payout.id if payout else None,
        status=payout.status if payout else None,
    )
    return payout.id if payout else None
