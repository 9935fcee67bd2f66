"""The procrastinate app on Sika's own PostgreSQL, and deferring jobs inside
the caller's transaction (DESIGN.md §4 rule 3).

procrastinate can run its INSERT on a connection we hand it, so a job is
deferred on the very psycopg connection behind our SQLAlchemy session: it
exists if and only if the transaction that asked for it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core.config import Settings
from sika.core.db import libpq_url

_app: procrastinate.App | None = None


def build_app(database_url: str, blueprints: dict[str, procrastinate.Blueprint]) -> procrastinate.App:
    """An app with every domain's tasks, each under its domain's namespace."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url)),
    )
    for namespace, blueprint in blueprints.items():
        app.add_tasks_from(blueprint, namespace=namespace)
    return app


def install(app: procrastinate.App) -> None:
    """Make ``app`` the one that ``defer`` uses in this process."""
    global _app
    _app = app


def current_app() -> procrastinate.App:
    if _app is None:
        raise RuntimeError("No procrastinate app installed: call sika.jobs.app.install() at start-up")
    return _app


async def defer(
    session: AsyncSession,
    task_name: str,
    *,
    queue: str | None = None,
    lock: str | None = None,
    queueing_lock: str | None = None,
    schedule_in: dict[str, int] | None = None,
    **task_kwargs: Any,
) -> int:
    """Defer ``task_name`` in the session's transaction; returns the job id."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    options: dict[str, Any] = {"connection": raw.driver_connection}
    if queue is not None:
        options["queue"] = queue
    if lock is not None:
        options["lock"] = lock
    if queueing_lock is not None:
        options["queueing_lock"] = queueing_lock
    if schedule_in is not None:
        options["schedule_in"] = schedule_in
    job_id: int = await current_app().configure_task(name=task_name, **options).defer_async(**task_kwargs)
    return job_id


@dataclass(frozen=True)
class Runtime:
    """What a job needs from the process that runs it, handed to tasks through
    procrastinate's job context (``context.additional_context["runtime"]``)."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]


def runtime_of(context: procrastinate.JobContext) -> Runtime:
    runtime = context.additional_context["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime
