"""The procrastinate app on Sika's own PostgreSQL, and deferring jobs inside
the caller's transaction (the money rules in docs/architecture.md).

procrastinate can run its INSERT on a connection we hand it, so a job is
deferred on the very psycopg connection behind our SQLAlchemy session: it
exists if and only if the transaction that asked for it commits.

A hot path that defers a job only when its own write happens (the webhook
intake: a new event, not a duplicate) calls procrastinate's own SQL function
from that very statement (``DEFER_ONE`` with ``to_defer``'s values): one round
trip instead of two, and the job row, its queueing lock and the workers'
notification stay procrastinate's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import procrastinate
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from sika.core.config import Settings

_app: procrastinate.App | None = None


@dataclass(frozen=True)
class TaskSpec:
    """A job declared by a domain's ``tasks.py``; ``build_app`` registers it on a fresh app.

    Declaring instead of decorating an app lets every test build its own app on its own
    database with the same, stable task names (``<module>.<verb_noun>``)."""

    name: str
    func: Callable[..., Awaitable[Any]]
    queue: str
    cron: str | None
    retry: procrastinate.RetryStrategy | int | bool


_SPECS: dict[str, TaskSpec] = {}


def task(
    name: str,
    *,
    queue: str = "default",
    cron: str | None = None,
    retry: procrastinate.RetryStrategy | int | bool = False,
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Declare a job. It receives procrastinate's job context first; periodic jobs
    (with ``cron``) also receive the scheduled ``timestamp``."""

    def declare(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if name in _SPECS and _SPECS[name].func is not func:
            raise ValueError(f"Task {name!r} is declared twice")
        _SPECS[name] = TaskSpec(name=name, func=func, queue=queue, cron=cron, retry=retry)
        return func

    return declare


def build_app(database_url: str) -> procrastinate.App:
    """A fresh app on ``database_url`` with every declared task."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=db.libpq_url(database_url)),
    )
    for spec in _SPECS.values():
        registered = app.task(name=spec.name, queue=spec.queue, pass_context=True, retry=spec.retry)(spec.func)
        if spec.cron is not None:
            app.periodic(cron=spec.cron, periodic_id=spec.name)(registered)
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
    options: dict[str, Any] = {"connection": await db.driver_connection(session)}
    if queue is not None:
        options["queue"] = queue
    if lock is not None:
        options["lock"] = lock
    if queueing_lock is not None:
        options["queueing_lock"] = queueing_lock
    if schedule_in is not None:
        options["schedule_in"] = schedule_in
    job_id: int = (
        await current_app().configure_task(name=task_name, allow_unknown=False, **options).defer_async(**task_kwargs)
    )
    return job_id


DEFER_ONE = (
    "(procrastinate_defer_jobs_v1(ARRAY[ROW(%(job_queue)s, %(job_task)s, %(job_priority)s, %(job_lock)s,"
    " %(job_queueing_lock)s, %(job_args)s, %(job_scheduled_at)s)::procrastinate_job_to_defer_v1]))[1]"
)
"""An SQL expression (psycopg's ``%(name)s`` style) that defers one job with ``to_defer``'s
values and gives its id: the function procrastinate's own ``defer`` calls (its ``defer_jobs``
query), so the row, and the trigger that wakes the workers, are procrastinate's."""


def to_defer(task_name: str, **task_kwargs: Any) -> dict[str, Any]:
    """The parameters of ``DEFER_ONE`` for ``task_name`` with ``task_kwargs``: the job procrastinate's
    ``defer`` would write (the task's queue, priority and locks), built by procrastinate itself."""
    job = current_app().configure_task(name=task_name, allow_unknown=False).make_new_job(**task_kwargs)
    # procrastinate turns a taken queueing lock into AlreadyEnqueued; a statement would raise a bare
    # IntegrityError instead, so a task that has one is deferred with ``defer``.
    assert job.queueing_lock is None, f"{task_name} has a queueing lock: defer it with defer()"
    return {
        "job_queue": job.queue,
        "job_task": job.task_name,
        "job_priority": job.priority,
        "job_lock": job.lock,
        "job_queueing_lock": job.queueing_lock,
        "job_args": Jsonb(job.task_kwargs),
        "job_scheduled_at": job.scheduled_at,
    }


# A due job of one task, taken as procrastinate's fetch would take it (todo, due, no lock,
# skipping rows another worker holds) and marked succeeded by procrastinate's own function, all
# in the caller's transaction: the job is done if and only if the caller's work commits with it.
_DUE = """
    WITH job AS (
        SELECT id, args FROM procrastinate_jobs
         WHERE queue_name = %(queue)s AND task_name = %(task)s AND status = 'todo' AND lock IS NULL
           AND (scheduled_at IS NULL OR scheduled_at <= now()) {only}
         ORDER BY priority DESC, id
         LIMIT 1
         FOR UPDATE SKIP LOCKED
    )
    SELECT job.id, job.args, procrastinate_finish_job_v1(job.id, 'succeeded', false)::text FROM job
"""
_TAKE_DUE_JOB = _DUE.format(only="")
_TAKE_JOB = _DUE.format(only="AND id = %(job_id)s")


@dataclass(frozen=True)
class TakenJob:
    id: int
    kwargs: dict[str, Any]


async def take_due_job(
    session: AsyncSession, *, task_name: str, queue: str, job_id: int | None = None
) -> TakenJob | None:
    """Take the next due job of ``task_name`` (or the job ``job_id``, if it is still waiting)
    in the session's transaction, finished there: the caller does its work in that transaction,
    so a rollback leaves the job waiting for any worker. None when there is none to take."""
    params: dict[str, Any] = {"queue": queue, "task": task_name}
    if job_id is not None:
        params["job_id"] = job_id
    # Sent on the driver connection: under a backlog, every event a worker takes sends it.
    cursor = await db.execute_plain(session, _TAKE_DUE_JOB if job_id is None else _TAKE_JOB, params)
    row = await cursor.fetchone()
    return TakenJob(id=int(row[0]), kwargs=dict(row[1])) if row is not None else None


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
