"""The whole of Sika for end-to-end tests: the API and a worker as real
processes (each in its own process group, so a test can SIGKILL one), and
the PSP sandbox served over HTTP in a thread, posting its webhooks to the
API. Timings are short so scenarios play out in seconds.

    with live_stack(database_url) as stack:
        stack.start_api(); stack.start_worker()
        ... talk to stack.api_url, steer stack.sandbox_url/_sandbox ...
        stack.kill_worker(); stack.start_worker(JOBS_STALLED_AFTER_SECONDS="2")
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

from sika.core import db
from tests.support.sandbox import SANDBOX_SECRETS, free_port, running_sandbox, sandbox_settings

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.1

PROVIDER_TIMEOUT_SECONDS = 5.0
"""Generous: the API's calls to the sandbox share a small machine with everything else."""
SANDBOX_TIMINGS: dict[str, Any] = {
    "SANDBOX_APPROVAL_DELAY_SECONDS": 0.3,
    "SANDBOX_LATENCY_SECONDS": 0.3,
    "SANDBOX_NO_ANSWER_SECONDS": 2 * PROVIDER_TIMEOUT_SECONDS,
    "SANDBOX_WEBHOOK_LATE_SECONDS": 0.5,
}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")[-6000:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no graceful anything."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        self.log_file.close()

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log_file.close()


@dataclass
class Stack:
    database_url: str
    api_port: int
    sandbox_url: str
    env: dict[str, str]
    """What every Sika process of the stack gets (SIKA_* settings, DATABASE_URL)."""
    api: Process | None = None
    worker: Process | None = None
    _logs: list[Path] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def sandbox_admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.sandbox_url}/_sandbox", timeout=10)

    def start_api(self, *, workers: int = 2, **settings: str) -> None:
        """Serve the API with ``workers`` processes; extra ``settings`` are SIKA_* values."""
        assert self.api is None or not self.api.alive(), "the API is already running"
        self.api = self._spawn(
            "api",
            [
                "-m",
                "uvicorn",
                "--factory",
                "sika.asgi:create",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            settings,
        )
        self._wait(lambda: _answers(f"{self.api_url}/health"), self.api)

    def start_worker(self, **settings: str) -> None:
        """Run a worker; returns once it has registered itself with the job queue."""
        assert self.worker is None or not self.worker.alive(), "the worker is already running"
        before = self._last_worker_id()
        self.worker = self._spawn("worker", ["-m", "sika", "worker", "--concurrency", "4"], settings)
        self._wait(lambda: self._last_worker_id() > before, self.worker)

    def _last_worker_id(self) -> int:
        with psycopg.connect(db.libpq_url(self.database_url)) as connection:
            row = connection.execute("SELECT coalesce(max(id), 0) FROM procrastinate_workers").fetchone()
        assert row is not None
        return int(row[0])

    def kill_api(self) -> None:
        assert self.api is not None
        self.api.kill()

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()

    def stop(self) -> None:
        for process in (self.worker, self.api):
            if process is not None and not process.log_file.closed:
                process.stop()

    def sika_check(self) -> subprocess.CompletedProcess[str]:
        """``sika check`` as an operator runs it against the stack's database."""
        return subprocess.run(
            [sys.executable, "-m", "sika", "check"],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def _spawn(self, name: str, args: list[str], settings: dict[str, str]) -> Process:
        env = {**os.environ, **self.env, **{f"SIKA_{key}": value for key, value in settings.items()}}
        # A file, not a pipe: a chatty process must never block on a full pipe.
        log_file = tempfile.NamedTemporaryFile(prefix=f"sika-e2e-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self._logs.append(Path(log_file.name))
        popen = subprocess.Popen(
            [sys.executable, *args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return Process(name=name, popen=popen, log_path=Path(log_file.name), log_file=log_file)

    def _wait(self, ready: Any, process: Process) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not ready():
            if not process.alive():
                raise RuntimeError(f"{process.name} exited early:\n{process.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not start in time:\n{process.log()}")
            time.sleep(POLL_SECONDS)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def live_stack(database_url: str, **settings: Any) -> Iterator[Stack]:
    """The sandbox, serving now, and a stack whose processes the test starts.

    ``settings`` override the stack's defaults for every process (SIKA_* names
    without the prefix; lists and maps as Python values)."""
    api_port = free_port()
    webhook_target = f"http://127.0.0.1:{api_port}/v1/webhooks"
    with running_sandbox(sandbox_settings(**SANDBOX_TIMINGS), webhook_target=webhook_target) as sandbox_url:
        values: dict[str, Any] = {
            "ENV": "test",
            "RATE_LIMIT_PER_KEY": "1000000/minute",
            "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
            # The sandbox in this thread and the stack's processes must know the same secrets.
            **SANDBOX_SECRETS,
            "PAYSTACK_BASE_URL": f"{sandbox_url}/paystack",
            "FEDAPAY_BASE_URL": f"{sandbox_url}/fedapay",
            "STRIPE_BASE_URL": f"{sandbox_url}/stripe",
            "PROVIDER_TIMEOUT_SECONDS": PROVIDER_TIMEOUT_SECONDS,
            "PROVIDER_CONNECT_TIMEOUT_SECONDS": PROVIDER_TIMEOUT_SECONDS,
            "PROVIDER_CIRCUIT_FAILURE_THRESHOLD": 1000,
            "WEBHOOK_RETRY_DELAYS_SECONDS": [1, 2, 4],
            "WORKER_HEARTBEAT_SECONDS": 1,
            # Reconciliation runs when a test asks for it, not behind its back.
            "RECONCILE_AFTER_SECONDS": 3600,
            **settings,
        }
        env = {"DATABASE_URL": database_url}
        for key, value in values.items():
            env[f"SIKA_{key}"] = value if isinstance(value, str) else json.dumps(value)
        stack = Stack(database_url=database_url, api_port=api_port, sandbox_url=sandbox_url, env=env)
        try:
            yield stack
        finally:
            stack.stop()
            for log in stack._logs:
                log.unlink(missing_ok=True)
