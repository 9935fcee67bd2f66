"""Real ``sika worker`` processes for the tests that need several at once or a
crash: started in their own process group (so that a signal reaches the worker
and what it spawned), logging to a file the test reads, ended by a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

STOP_TIMEOUT_SECONDS = 30


def start_worker(
    database_url: str, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``sika worker <args>`` on ``database_url``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "sika"), "worker", *args],
            env={**os.environ, "DATABASE_URL": database_url, "SIKA_ENV": "test", **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def end_worker(worker: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig`` to the worker's process group; one that outlives the timeout is killed."""
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        try:
            worker.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


async def until(
    sessions: async_sessionmaker[AsyncSession],
    statement: str,
    wanted: object,
    *,
    timeout_seconds: float,
    **params: object,
) -> None:
    """Wait, polling the database, until ``statement`` answers ``wanted``."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        async with sessions() as session:
            if await session.scalar(sa.text(statement), params) == wanted:
                return
        assert time.monotonic() < deadline, f"{statement} never reached {wanted}"
        await asyncio.sleep(0.5)
