"""Logs: readable lines in development, JSON elsewhere; periodic jobs say nothing at info when idle."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.config import Settings
from sika.idempotency.models import IdempotencyKey
from sika.jobs import app as jobs_app
from tests.foundation.test_jobs_and_ready import WAIT_SECONDS, _job_status, running_worker

EMIT = """
import logging
import structlog
from sika.core import logging as sika_logging
sika_logging.configure()
structlog.get_logger("sika.test").info("hello", n=1)
procrastinate = logging.getLogger("procrastinate.worker")
procrastinate.info("Job x ended with status: Success", extra={"action": "job_success"})
procrastinate.info("Periodic job x deferred", extra={"action": "periodic_task_deferred"})
procrastinate.info("Job y ended with status: Error, to retry", extra={"action": "job_error_retry"})
logging.getLogger("uvicorn.error").info("Application startup complete.")
"""


EMIT_ERROR = """
import structlog
from sika.core import logging as sika_logging
sika_logging.configure()
def fail(secret_local):
    raise RuntimeError("boom")
try:
    fail("a-local-value")
except RuntimeError as exc:
    structlog.get_logger("sika.test").error("unhandled_error", exc_info=exc)
"""


def _emitted(env: str, program: str = EMIT) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SIKA_")} | {"SIKA_ENV": env}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=environ, timeout=60, check=True
    )
    return done.stderr.strip().splitlines()


def test_development_logs_are_readable_lines() -> None:
    lines = _emitted("development")
    assert len(lines) == 2, lines
    assert not lines[0].startswith("{")
    assert "hello" in lines[0]
    assert "n=1" in lines[0]
    assert "[info" in lines[0]


def test_development_draws_an_error_as_a_plain_traceback_without_locals() -> None:
    """Rich's boxed tracebacks with every frame's locals cost tens of milliseconds each on the
    event loop: under load, a burst of them stalled an API process for seconds."""
    lines = _emitted("development", EMIT_ERROR)
    assert "unhandled_error" in lines[0]
    assert "Traceback (most recent call last):" in lines
    assert lines[-1] == "RuntimeError: boom"
    assert not [line for line in lines if "╭" in line or "│" in line]
    assert not [line for line in lines if "a-local-value" in line and "fail(" not in line]


def test_other_environments_log_one_json_object_a_line() -> None:
    lines = _emitted("test")
    entries = [json.loads(line) for line in lines]
    assert entries[0]["event"] == "hello"
    assert entries[0]["n"] == 1
    assert entries[0]["level"] == "info"
    # procrastinate's routine job lines and uvicorn's start-up line are gone; a retry still shows.
    assert [entry["event"] for entry in entries[1:]] == ["Job y ended with status: Error, to retry"]


async def _run_purge(settings: Settings, database_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with db.transaction(sessions) as session:
        job_id = await jobs_app.defer(session, "idempotency.purge_keys", timestamp=0)
    async with running_worker(settings, database_url):
        for _ in range(WAIT_SECONDS * 10):
            if await _job_status(sessions, job_id) == "succeeded":
                break
            await asyncio.sleep(0.1)
    assert await _job_status(sessions, job_id) == "succeeded"


def _purge_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "idempotency_keys_purged"]


async def test_a_periodic_job_that_did_nothing_logs_nothing_at_info(
    app: object, settings: Settings, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with structlog.testing.capture_logs() as logs:
        await _run_purge(settings, database_url, sessions)
    purged = _purge_lines(logs)
    assert purged, logs
    assert {entry["log_level"] for entry in purged} == {"debug"}
    assert not [entry for entry in logs if entry["log_level"] == "info" and entry["event"].startswith("ledger")]


async def test_a_periodic_job_that_did_something_logs_at_info(
    app: object, settings: Settings, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with db.transaction(sessions) as session:
        session.add(
            IdempotencyKey(owner="o", key="old", fingerprint="f", expires_at=clock.now() - timedelta(seconds=1))
        )
    with structlog.testing.capture_logs() as logs:
        await _run_purge(settings, database_url, sessions)
    # The worker's own periodic run of the same job may come first and find nothing: debug.
    lines = {(entry["log_level"], entry["count"]) for entry in _purge_lines(logs)}
    assert ("info", 1) in lines
    assert lines <= {("info", 1), ("debug", 0)}
