from __future__ import annotations

import procrastinate
import structlog

from sika.core import clock, db
from sika.core.context import system_actor
from sika.jobs import app as jobs_app
from sika.webhooks import service as webhooks_service

log = structlog.get_logger(__name__)

ACTOR = system_actor(webhooks_service.PROCESS_EVENT_TASK)


@jobs_app.task(webhooks_service.PROCESS_EVENT_TASK, queue=webhooks_service.WEBHOOKS_QUEUE)
async def process_event(context: procrastinate.JobContext, event_id: str) -> str:
    """Apply one stored webhook event. A failure rolls its work back, is
    recorded on the event, and the job is deferred again after the next of
    ``WEBHOOK_RETRY_DELAYS_SECONDS``."""
    runtime = jobs_app.runtime_of(context)
    try:
        async with db.transaction(runtime.sessions) as session:
            status = await webhooks_service.process(session, event_id=event_id, now=clock.now(), actor=ACTOR)
    except Exception as exc:
        log.warning("webhook.processing_failed", event_id=event_id, error=repr(exc))
        async with db.transaction(runtime.sessions) as session:
            delay = await webhooks_service.record_failure(
                session,
                event_id=event_id,
                error=repr(exc),
                delays_seconds=runtime.settings.WEBHOOK_RETRY_DELAYS_SECONDS,
                now=clock.now(),
            )
        return f"retry in {delay} s" if delay is not None else "failed"
    log.info("webhook.processed", event_id=event_id, status=status)
    return status
