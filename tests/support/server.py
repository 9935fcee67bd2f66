"""A real Sika API in subprocesses (uvicorn with several workers) on a free
loopback port, for tests that need true parallelism over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

STARTUP_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_api(database_url: str, *, workers: int = 2, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the API on ``database_url``; yields its base URL."""
    port = free_port()
    process_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SIKA_ENV": "test",
        "SIKA_RATE_LIMIT_PER_KEY": "1000000/minute",
        "SIKA_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        **(env or {}),
    }
    # A file, not a pipe: a chatty server must never block on a full pipe.
    log_file = tempfile.NamedTemporaryFile(prefix="sika-api-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "sika.asgi:create",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=process_env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                with open(log_file.name) as log:
                    raise RuntimeError(f"API exited early: {log.read()[-4000:]}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("API did not start in time")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
        os.unlink(log_file.name)
