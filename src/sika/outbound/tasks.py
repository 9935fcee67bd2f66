"""The job that delivers webhooks: a pump that runs for a few seconds at a time,
then queues its own next run while an endpoint is enabled. Registering an
endpoint, a retry and a replay queue one at once; a minute job queues one too,
should the chain ever break (a worker killed mid-run)."""

from __future__ import annotations

import asyncio
import time

import httpx
import procrastinate
import structlog

from sika.core import db
from sika.jobs import app as jobs_app
from sika.outbound import service as outbound_service

log = structlog.get_logger(__name__)

PUMP_TASK = outbound_service.PUMP_TASK
KEEP_PUMPING_TASK = "outbound.keep_pumping"
QUEUE = "outbound"
PUMP_SECONDS = 10.0
"""How long one run goes on; short, so that a worker asked to stop waits no longer than this."""
IDLE_SECONDS = 0.5
"""Pause between passes that found nothing to do: how soon a new event leaves."""


@jobs_app.task(PUMP_TASK, queue=QUEUE)
async def pump(context: procrastinate.JobContext) -> int:
    """Deliver for ``PUMP_SECONDS``, then queue the next run; how many attempts were made."""
    runtime = jobs_app.runtime_of(context)
    settings = runtime.settings
    timeout = httpx.Timeout(settings.OUTBOUND_TIMEOUT_SECONDS, connect=settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS)
    attempted = 0
    deadline = time.monotonic() + PUMP_SECONDS
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        while time.monotonic() < deadline and not context.should_abort():
            pumped = await outbound_service.pump_once(runtime.sessions, settings=settings, client=client)
            attempted += pumped.attempted
            if not (pumped.attempted or pumped.fanned_out):
                await asyncio.sleep(IDLE_SECONDS)
    async with db.transaction(runtime.sessions) as session:
        await outbound_service.queue_pump(session)
    if attempted:
        log.info("outbound.pumped", attempted=attempted)
    return attempted


@jobs_app.task(KEEP_PUMPING_TASK, queue="maintenance", cron="* * * * *")
async def keep_pumping(context: procrastinate.JobContext, timestamp: int) -> None:
    """Queue a pump run unless one is queued already (or no endpoint is enabled)."""
    async with db.transaction(jobs_app.runtime_of(context).sessions) as session:
        await outbound_service.queue_pump(session)
