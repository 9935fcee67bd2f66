from __future__ import annotations

import httpx
import procrastinate
import structlog

from sika.core import clock
from sika.core.context import system_actor
from sika.jobs import app as jobs_app
from sika.payments import service as payments_service
from sika.providers import registry

log = structlog.get_logger(__name__)

RECONCILE_TASK = "payments.reconcile"
ACTOR = system_actor(RECONCILE_TASK)


@jobs_app.task(RECONCILE_TASK, queue="payments", cron="* * * * *")
async def reconcile(context: procrastinate.JobContext, timestamp: int) -> int:
    """Finish the collections and payouts left open longer than
    ``RECONCILE_AFTER_SECONDS`` by asking their providers; returns how many changed."""
    runtime = jobs_app.runtime_of(context)
    async with httpx.AsyncClient() as client:
        report = await payments_service.reconcile(
            runtime.sessions,
            providers=registry.build_router(runtime.settings, client),
            after_seconds=runtime.settings.RECONCILE_AFTER_SECONDS,
            give_up_after_seconds=runtime.settings.RECONCILE_GIVE_UP_AFTER_SECONDS,
            actor=ACTOR,
            clock=clock.now,
        )
    # Info only when reconciliation found something; an idle minute is debug noise.
    acted = report.checked or report.changed or report.unreachable
    (log.info if acted else log.debug)(
        "payments.reconciled", checked=report.checked, changed=report.changed, unreachable=report.unreachable
    )
    return report.changed
