"""The ledger's jobs: expiring pending transfers past their timeout, and
checking every domain's invariants (the ledger's and those of the domains
built on it, as ``sika.core.invariants`` finds them)."""

from __future__ import annotations

from typing import Any

import procrastinate
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from sika.alerts import service as alerts_service
from sika.core import clock, db, invariants, paging
from sika.core.context import system_actor
from sika.jobs import app as jobs_app
from sika.ledger.service import pending as ledger_pending

log = structlog.get_logger(__name__)

MAX_EXPIRY_BATCHES_PER_RUN = 50
"""At most this many batches (of ``ledger_pending.EXPIRY_BATCH_SIZE``) per run;
the next run, a minute later, takes the rest."""


def alert_kind(domain: str) -> str:
    """The alert a breach of one of ``domain``'s invariants raises."""
    return f"{domain}.invariant_breached"


INVARIANT_ALERT_KIND = alert_kind("ledger")

INVARIANT_BREACHES = Gauge(
    "sika_ledger_invariant_breaches", "Breaches found by the last invariant run, by check", ["check"]
)
INVARIANT_BREACHES_FOUND = Counter(
    "sika_ledger_invariant_breaches_found_total", "Breaches found by invariant runs, by check", ["check"]
)
PENDING_EXPIRED = Counter("sika_ledger_pending_expired_total", "Pending transfers expired by the job")


@jobs_app.task("ledger.expire_pending", queue="ledger", cron="* * * * *")
async def expire_pending(context: procrastinate.JobContext, timestamp: int) -> int:
    """Expire pending transfers past their timeout, one bounded batch per transaction."""
    runtime = jobs_app.runtime_of(context)
    actor = system_actor("ledger.expire_pending")
    total = 0
    for _ in range(MAX_EXPIRY_BATCHES_PER_RUN):
        async with db.transaction(runtime.sessions) as session:
            expired = await ledger_pending.expire_pending(session, now=clock.now(), actor=actor)
        total += expired
        if expired < ledger_pending.EXPIRY_BATCH_SIZE:
            break
    PENDING_EXPIRED.inc(total)
    # A periodic job logs at info only when it did something: an idle minute is debug noise.
    (log.info if total else log.debug)("ledger_pending_expired", count=total)
    return total


@jobs_app.task("ledger.check_invariants", queue="ledger", cron="*/15 * * * *")
async def check_invariants(context: procrastinate.JobContext, timestamp: int) -> int:
    """Run every domain's invariant checks; raise an alert for each breach not
    already under an open alert. Returns the number of breaches found."""
    runtime = jobs_app.runtime_of(context)
    async with db.transaction(runtime.sessions) as session:
        report = await invariants.check_all(session)
    async with db.transaction(runtime.sessions) as session:
        return await record_breaches(session, report)


async def record_breaches(session: AsyncSession, report: invariants.Report) -> int:
    """Metrics for every check, and one alert per breach (once while it stays open)."""
    already: set[tuple[str | None, str | None]] = set()
    for domain in sorted({result.domain for result in report.results}):
        open_alerts = await alerts_service.list_alerts(
            session, kind=alert_kind(domain), is_open=True, page=paging.Page(limit=paging.MAX_LIMIT)
        )
        already |= {(alert.data.get("check"), alert.entity_id) for alert in open_alerts}
    for result in report.results:
        INVARIANT_BREACHES.labels(check=result.name).set(result.breach_count)
        INVARIANT_BREACHES_FOUND.labels(check=result.name).inc(result.breach_count)
        for breach in result.breaches:
            if (breach.check, breach.entity_id) in already:
                continue
            data: dict[str, Any] = {"check": breach.check, **breach.data}
            await alerts_service.raise_alert(
                session,
                kind=alert_kind(result.domain),
                severity="critical",
                message=f"{result.description}: {breach.describe()}",
                entity_type=breach.entity_type,
                entity_id=breach.entity_id,
                data=data,
                platform_id=None,
            )
    total = sum(result.breach_count for result in report.results)
    if total:
        log.error("ledger_invariants_breached", breaches=total)
    else:
        log.debug("ledger_invariants_hold")
    return total
