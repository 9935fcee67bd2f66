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
    """Apply one stored webhook event, then up to ``WEBHOOK_EVENTS_PER_JOB - 1`` more whose jobs
    are due. A failure rolls its work back, is recorded on the event, and the job is deferred
    again after the next of ``WEBHOOK_RETRY_DELAYS_SECONDS``."""
    runtime = jobs_app.runtime_of(context)
    status = await _attempt(runtime, event_id)
    more = await _take_due_events(runtime, limit=runtime.settings.WEBHOOK_EVENTS_PER_JOB - 1)
    return f"{status}, and {more} more" if more else status


async def _attempt(runtime: jobs_app.Runtime, event_id: str) -> str:
    """The event's own job: its processing in one transaction, or its failure recorded."""
    try:
        async with db.transaction(runtime.sessions) as session:
            status = await webhooks_service.process(session, event_id=event_id, now=clock.now(), actor=ACTOR)
    except Exception as exc:
        return await _failed(runtime, event_id, exc, job_id=None)
    log.info("webhook.processed", event_id=event_id, status=status)
    return status


async def _take_due_events(runtime: jobs_app.Runtime, *, limit: int) -> int:
    """Process the events whose jobs are due, one transaction each: the job is taken and
    finished in the transaction that processes its event, so procrastinate's fetch and finish
    (two more commits, and the worker's one-at-a-time fetch) are saved under a backlog, and an
    event that fails rolls back alone. Returns how many were taken."""
    for taken_count in range(limit):
        job: jobs_app.TakenJob | None = None
        try:
            async with db.transaction(runtime.sessions) as session:
                job = await jobs_app.take_due_job(
                    session, task_name=webhooks_service.PROCESS_EVENT_TASK, queue=webhooks_service.WEBHOOKS_QUEUE
                )
                if job is None:
                    return taken_count
                event_id = str(job.kwargs["event_id"])
                status = await webhooks_service.process(session, event_id=event_id, now=clock.now(), actor=ACTOR)
        except Exception as exc:
            if job is None:
                # Taking the job failed: nothing was taken; its own worker will run it.
                log.warning("webhook.take_failed", error=repr(exc))
                return taken_count
            await _failed(runtime, str(job.kwargs["event_id"]), exc, job_id=job.id)
            continue
        log.info("webhook.processed", event_id=event_id, status=status)
    return limit


async def _failed(runtime: jobs_app.Runtime, event_id: str, exc: Exception, *, job_id: int | None) -> str:
    """Record a failed attempt (and defer the next one). For a job taken from the queue
    (``job_id``), only if it can be taken again: its rollback put it back, and another worker
    that took it meanwhile makes the attempt itself."""
    log.warning("webhook.processing_failed", event_id=event_id, error=repr(exc))
    async with db.transaction(runtime.sessions) as session:
        if job_id is not None and not await jobs_app.take_due_job(
            session, task_name=webhooks_service.PROCESS_EVENT_TASK, queue=webhooks_service.WEBHOOKS_QUEUE, job_id=job_id
        ):
            return "taken by another worker"
        delay = await webhooks_service.record_failure(
            session,
            event_id=event_id,
            error=repr(exc),
            delays_seconds=runtime.settings.WEBHOOK_RETRY_DELAYS_SECONDS,
            now=clock.now(),
        )
    return f"retry in {delay} s" if delay is not None else "failed"
