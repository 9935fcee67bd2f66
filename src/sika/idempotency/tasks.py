from __future__ import annotations

import procrastinate
import structlog

from sika.core import clock, db
from sika.idempotency import service as idempotency_service
from sika.jobs import app as jobs_app

log = structlog.get_logger(__name__)

MAX_BATCHES_PER_RUN = 100


@jobs_app.task("idempotency.purge_keys", queue="maintenance", cron="*/10 * * * *")
async def purge_keys(context: procrastinate.JobContext, timestamp: int) -> int:
    """Delete expired idempotency keys in bounded batches, one transaction each."""
    runtime = jobs_app.runtime_of(context)
    total = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        async with db.transaction(runtime.sessions) as session:
            deleted = await idempotency_service.purge_expired(session, now=clock.now())
        total += deleted
        if deleted < idempotency_service.PURGE_BATCH_SIZE:
            break
    # Info only when keys were purged; an idle run is debug noise.
    (log.info if total else log.debug)("idempotency_keys_purged", count=total)
    return total
