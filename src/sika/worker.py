"""The worker's composition root: every domain's tasks in one procrastinate
app, and running a worker on it."""

from __future__ import annotations

import procrastinate
from procrastinate.app import WorkerOptions

from sika.alerts import tasks as alerts_tasks
from sika.core.config import Settings
from sika.core.db import make_engine, make_sessionmaker
from sika.escrow import tasks as escrow_tasks
from sika.idempotency import tasks as idempotency_tasks
from sika.instalments import tasks as instalments_tasks
from sika.jobs import app as jobs_app
from sika.jobs import tasks as jobs_tasks
from sika.ledger import tasks as ledger_tasks
from sika.mandates import tasks as mandates_tasks
from sika.outbound import tasks as outbound_tasks
from sika.payments import tasks as payments_tasks
from sika.webhooks import tasks as webhooks_tasks

# Importing a domain's tasks module declares its jobs; this list is the whole set.
TASK_MODULES = (
    escrow_tasks,
    idempotency_tasks,
    jobs_tasks,
    ledger_tasks,
    mandates_tasks,
    payments_tasks,
    webhooks_tasks,
    outbound_tasks,
    alerts_tasks,
    instalments_tasks,
)


def build(database_url: str) -> procrastinate.App:
    """The app with every task, installed as the one ``defer`` uses in this process."""
    assert TASK_MODULES
    app = jobs_app.build_app(database_url)
    jobs_app.install(app)
    return app


async def run_worker(
    settings: Settings,
    *,
    database_url: str,
    concurrency: int = 4,
    install_signal_handlers: bool = True,
    queues: list[str] | None = None,
) -> None:
    """Run until cancelled (or a signal arrives). Jobs stalled by a dead worker
    are retried by the ``jobs.retry_stalled`` periodic task."""
    engine = make_engine(database_url, pool_size=concurrency, max_overflow=concurrency)
    runtime = jobs_app.Runtime(settings=settings, sessions=make_sessionmaker(engine))
    app = build(database_url)
    try:
        async with app.open_async():
            options: WorkerOptions = {
                "concurrency": concurrency,
                "install_signal_handlers": install_signal_handlers,
                "additional_context": {"runtime": runtime},
                "update_heartbeat_interval": settings.WORKER_HEARTBEAT_SECONDS,
            }
            # procrastinate reads a missing queue list as 'every queue' and an empty one as none.
            if queues:
                options["queues"] = queues
            await app.run_worker_async(**options)
    finally:
        await engine.dispose()
