"""Housekeeping of the job system itself."""

from __future__ import annotations

import procrastinate
import structlog

blueprint = procrastinate.Blueprint()
log = structlog.get_logger(__name__)

STALLED_AFTER_SECONDS = 60
"""A job whose worker has not beaten for this long is presumed dead and run again."""


@blueprint.periodic(cron="* * * * *", periodic_id="retry_stalled")
@blueprint.task(name="retry_stalled", pass_context=True, queue="maintenance")
async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    for job in stalled:
        log.warning("job_stalled_retrying", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
    return len(stalled)
