"""Structured logs through structlog: readable console lines in development, JSON lines
elsewhere (test and production, where machines read them). The request id rides in contextvars."""

from __future__ import annotations

import logging
import sys

import structlog

from sika.core.config import Environment, get_settings

CHATTY_LOGGERS = ("pgserver", "alembic.runtime.migration", "uvicorn.error")
"""Loggers kept to warnings and above: their info lines are start-up chatter (initdb output,
migration context). ``sika run`` serves two uvicorn servers (API and sandbox) in one process, so
uvicorn's start-up and shutdown lines came out twice, identical; Sika prints its banner instead."""

ROUTINE_JOB_ACTIONS = frozenset(
    {"loading_blueprint", "registering_periodic_task", "periodic_task_deferred", "start_job", "job_success"}
)
"""procrastinate's info lines that say nothing happened: task registration (once per app opened,
so twice under ``sika run``) and, every minute, each periodic job's deferral, start and success.
Sika's own job lines say what a job did; a retry, an abort or a failure still shows."""


class _RoutineJobLines(logging.Filter):
    """Demotes procrastinate's routine lines to debug: shown only when logging at debug."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        routine = record.name.startswith("procrastinate") and getattr(record, "action", None) in ROUTINE_JOB_ACTIONS
        return not routine or self.level <= logging.DEBUG


def json_logs(env: Environment) -> bool:
    """Development is read by a person at a terminal; every other environment by a machine."""
    return env is not Environment.development


def renderer(*, json: bool) -> structlog.types.Processor:
    if json:
        return structlog.processors.JSONRenderer()
    # Plain tracebacks: rich's boxed ones with every frame's locals take tens of milliseconds to
    # draw on the event loop, and a burst of errors under load (clients dropping at once) kept an
    # API process drawing them for whole seconds while every request waited.
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)


def configure(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog and the standard library's root logger; ``json`` defaults to
    what ``SIKA_ENV`` calls for (:func:`json_logs`)."""
    if json is None:
        json = json_logs(get_settings().ENV)
    render = renderer(json=json)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The console renderer prints exceptions itself; pre-formatting them would make it warn.
    exceptions: list[structlog.types.Processor] = [structlog.processors.format_exc_info] if json else []
    structlog.configure(
        processors=[*shared, *exceptions, render],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Route the standard library's records (uvicorn, procrastinate, alembic) through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    handler.addFilter(_RoutineJobLines(level))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
