"""The quick start's first command: ``sika run`` on a machine with no
PostgreSQL brings everything up, answers /ready, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.support.server import free_port

STARTUP_TIMEOUT_SECONDS = 90


def _postgres_running_in(data_dir: Path) -> bool:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any("postgres" in part for part in cmdline[:1]) and str(data_dir) in cmdline:
            return True
    return False


def test_sika_run_serves_ready_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    sandbox_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "SIKA_PORT": str(port),
        "SIKA_SANDBOX_PORT": str(sandbox_port),
        "SIKA_PGDATA_DIR": str(tmp_path / "pgdata"),
    }
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sika", "run"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        output = log_path.read_text()
        assert ready is not None, output[-3000:]
        assert ready.status_code == 200, output[-3000:]
        assert ready.json()["checks"]["worker"]["ok"] is True

        key = (tmp_path / "admin-key").read_text().strip()  # beside the data folder
        assert key in output
        keys = httpx.get(f"http://127.0.0.1:{port}/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
        assert keys.status_code == 200
        assert [k["name"] for k in keys.json()] == ["first admin"]
        assert f"Dashboard  http://127.0.0.1:{port}/dashboard/" in output
        login = httpx.get(f"http://127.0.0.1:{port}/dashboard/login", timeout=5)
        assert login.status_code == 200
        assert "Sign in with an API key that has the admin or support scope." in login.text
        assert _postgres_running_in(tmp_path / "pgdata")
        sandbox = httpx.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/openapi.json", timeout=5)
        assert sandbox.status_code == 200
        assert "Sika PSP sandbox" in sandbox.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not _postgres_running_in(tmp_path / "pgdata")
