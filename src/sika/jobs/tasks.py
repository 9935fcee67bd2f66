"""Housekeeping of the job system itself."""

from __future__ import annotations

import procrastinate
import structlog

from sika.jobs import app as jobs_app

log = structlog.get_logger(__name__)

STALLED_AFTER_SECONDS = 60
"""A job whose worker has not beaten for this long is presumed dead and run again."""


@jobs_app.task("jobs.retry_stalled", queue="maintenance", cron="* * * * *")
async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    count = 0
    for job in stalled:
        log.warning("job_stalled_retrying", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
        count += 1
    return count
