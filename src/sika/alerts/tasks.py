"""The minute job that tells the operators (``sika.alerts.notices``)."""

from __future__ import annotations

import httpx
import procrastinate
import structlog

from sika.alerts import notices
from sika.jobs import app as jobs_app

log = structlog.get_logger(__name__)

NOTIFY_TASK = "alerts.notify_operators"
TIMEOUT_SECONDS = 10.0


@jobs_app.task(NOTIFY_TASK, queue="maintenance", cron="* * * * *")
async def notify_operators(context: procrastinate.JobContext, timestamp: int) -> int:
    runtime = jobs_app.runtime_of(context)
    if not notices.channels_configured(runtime.settings):
        return 0
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        sent = await notices.notify_operators(runtime.sessions, settings=runtime.settings, client=client)
    if sent:
        log.info("alerts.operators_notified", notices=sent)
    return sent
