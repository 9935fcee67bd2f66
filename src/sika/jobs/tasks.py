"""Housekeeping of the job system itself."""

from __future__ import annotations

import procrastinate
import structlog

from sika.jobs import app as jobs_app

log = structlog.get_logger(__name__)


@jobs_app.task("jobs.retry_stalled", queue="maintenance", cron="* * * * *")
async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
    """Run again the jobs whose worker has not beaten for ``JOBS_STALLED_AFTER_SECONDS``."""
    manager = context.app.job_manager
    stalled_after = jobs_app.runtime_of(context).settings.JOBS_STALLED_AFTER_SECONDS
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    count = 0
    for job in stalled:
        log.warning("job_stalled_retrying", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
        count += 1
    return count
