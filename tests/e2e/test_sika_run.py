"""The quick start's first command: ``sika run`` on a machine with no
PostgreSQL brings everything up, answers /ready, and stops cleanly; it
survives a crash, says plainly when its port is taken, and two of them on
one machine each keep to their own sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from sika import worker as jobs_worker
from sika.core import clock, db, ids
from sika.core.config import Environment, Settings
from sika.sandbox import signing
from sika.webhooks import service as webhooks_service
from tests.support import idempotency as idempotency_hooks
from tests.support.payments import mobile_money
from tests.support.sandbox import SANDBOX_SECRETS
from tests.support.server import free_port

STARTUP_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30


def _postgres_in(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any("postgres" in part for part in cmdline[:1]) and str(data_dir) in cmdline:
            found.append(process)
    return found


def _postgres_running_in(data_dir: Path) -> bool:
    return bool(_postgres_in(data_dir))


def _kill_postgres_in(data_dir: Path) -> None:
    """Whatever a failed test left running on its data folder."""
    for process in _postgres_in(data_dir):
        process.kill()


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """A folder for the runs and their data, outside pytest's own temporary folders: run
    as root, pgserver opens the data folder's parents to its own user, and any pytest
    session starting meanwhile (on a shared machine) closes pytest-of-<user> again."""
    folder = Path(tempfile.mkdtemp(prefix="sika-run-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class SikaRun:
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int
    sandbox_port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> httpx.Response:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        ready = None
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                ready = httpx.get(f"{self.url}/ready", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert ready is not None, self.output()[-3000:]
        assert ready.status_code == 200, self.output()[-3000:]
        return ready

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def crash(self) -> None:
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def sika_run(folder: Path, data_dir: Path, **settings: Any) -> Iterator[SikaRun]:
    """``sika run`` from ``folder`` on free ports, killed at the end whatever happened."""
    folder.mkdir(parents=True, exist_ok=True)
    port = int(settings.pop("PORT", 0)) or free_port()
    sandbox_port = int(settings.pop("SANDBOX_PORT", 0)) or free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SIKA_")},
        "SIKA_PORT": str(port),
        "SIKA_SANDBOX_PORT": str(sandbox_port),
        "SIKA_PGDATA_DIR": str(data_dir),
        **{f"SIKA_{name}": str(value) for name, value in settings.items()},
    }
    log_path = folder / f"run-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sika", "run"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield SikaRun(process, log_path, port, sandbox_port, data_dir)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)


def test_sika_run_serves_ready_and_stops_cleanly(work_dir: Path) -> None:
    data_dir = work_dir / "pgdata"
    try:
        with sika_run(work_dir, data_dir) as run:
            ready = run.wait_ready()
            output = run.output()
            assert ready.json()["checks"]["worker"]["ok"] is True

            key = (work_dir / "admin-key").read_text().strip()  # beside the data folder
            assert key in output
            keys = httpx.get(f"{run.url}/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
            assert keys.status_code == 200
            assert [k["name"] for k in keys.json()["data"]] == ["first admin"]
            assert f"Dashboard  {run.url}/dashboard/" in output
            assert "Serving    uvloop event loop, httptools HTTP parser" in output
            login = httpx.get(f"{run.url}/dashboard/login", timeout=5)
            assert login.status_code == 200
            assert "Sign in with an API key that has the admin or support scope." in login.text
            assert _postgres_running_in(data_dir)
            sandbox = httpx.get(f"http://127.0.0.1:{run.sandbox_port}/_sandbox/openapi.json", timeout=5)
            assert sandbox.status_code == 200
            assert "Sika PSP sandbox" in sandbox.text
            run.stop()
            assert "Traceback" not in run.output()
        assert not _postgres_running_in(data_dir)
    finally:
        _kill_postgres_in(data_dir)


def test_a_clean_stop_after_a_crash_stops_postgres(work_dir: Path) -> None:
    """A SIGKILL leaves the postmaster running (nothing can stop it then); the next
    run takes it over, and that run's clean stop must stop it."""
    data_dir = work_dir / "pgdata"
    try:
        with sika_run(work_dir, data_dir) as crashed:
            crashed.wait_ready()
            crashed.crash()
        assert _postgres_running_in(data_dir)
        with sika_run(work_dir, data_dir) as restarted:
            restarted.wait_ready()
            restarted.stop()
        assert not _postgres_running_in(data_dir)
    finally:
        _kill_postgres_in(data_dir)


def _wait_for(run: SikaRun, text: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while text not in run.output():
        assert time.monotonic() < deadline, run.output()[-3000:]
        assert run.process.poll() is None, run.output()[-3000:]
        time.sleep(0.01)


def test_the_banner_shows_once_the_api_answers_and_names_the_key_file(work_dir: Path) -> None:
    """ "Sika is up" is true when it is printed; the first admin key is saved beside
    the data folder, wherever that is, and the banner says where."""
    data_dir = work_dir / "elsewhere" / "pgdata"
    try:
        with sika_run(work_dir / "checkout", data_dir) as run:
            _wait_for(run, "Sika is up")
            assert httpx.get(f"{run.url}/health", timeout=5).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{run.sandbox_port}/_sandbox", timeout=5).status_code == 200
            _wait_for(run, "First admin key")
            key_file = work_dir / "elsewhere" / "admin-key"
            key = key_file.read_text().strip()
            assert f"First admin key (shown once, also in {key_file}): {key}" in run.output()
            assert not (work_dir / "checkout" / ".sika" / "admin-key").exists()
            run.stop()
    finally:
        _kill_postgres_in(data_dir)


def _run_on_taken_port(work_dir: Path, setting: str) -> tuple[int, str, int]:
    data_dir = work_dir / "pgdata"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            with sika_run(work_dir, data_dir, **{setting: port}) as run:
                code = run.process.wait(timeout=STARTUP_TIMEOUT_SECONDS)
                assert not _postgres_running_in(data_dir)
                return code, run.output(), port
        finally:
            _kill_postgres_in(data_dir)


def test_a_taken_api_port_is_one_line_and_exit_code_2(work_dir: Path) -> None:
    code, output, port = _run_on_taken_port(work_dir, "PORT")
    assert code == 2, output
    assert output.strip().splitlines() == [
        f"Port {port} on 127.0.0.1 is already in use: set SIKA_PORT (or --port) to a free port."
    ]


def test_a_taken_sandbox_port_is_one_line_and_exit_code_2(work_dir: Path) -> None:
    code, output, port = _run_on_taken_port(work_dir, "SANDBOX_PORT")
    assert code == 2, output
    assert output.strip().splitlines() == [
        f"Port {port} on 127.0.0.1 is already in use: set SIKA_SANDBOX_PORT to a free port."
    ]


def _collect(run: SikaRun, amount_minor: int) -> dict[str, Any]:
    """A collection by mobile money through the run's API, as its first admin."""
    key = (run.data_dir.parent / "admin-key").read_text().strip()
    with httpx.Client(
        base_url=run.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        event_hooks=idempotency_hooks.SYNC_HOOKS,
    ) as api:
        party = api.post(
            "/v1/parties",
            json={
                "display_name": "Kofi Mensah",
                "type": "individual",
                "country": "CI",
                "email": "kofi@example.ci",
                "phone": "+2250700000001",
            },
        )
        assert party.status_code == 201, party.text
        wallet = api.post(f"/v1/parties/{party.json()['id']}/wallets", json={"currency": "XOF"})
        assert wallet.status_code == 201, wallet.text
        body = {
            "party_id": party.json()["id"],
            "wallet_id": wallet.json()["id"],
            "amount_minor": amount_minor,
            "currency": "XOF",
            "method": mobile_money("mtn"),
        }
        collection = api.post("/v1/collections", json=body)
        assert collection.status_code in (200, 201, 202), collection.text
        shown: dict[str, Any] = collection.json()
        return shown


def _sandbox_payments(run: SikaRun) -> list[str]:
    listed = httpx.get(f"http://127.0.0.1:{run.sandbox_port}/_sandbox/payments", timeout=10)
    assert listed.status_code == 200, listed.text
    return [f"{payment['provider']}:{payment['id']}" for payment in listed.json()]


def test_two_runs_on_one_machine_each_reach_their_own_sandbox(work_dir: Path) -> None:
    """Provider URLs left unset follow SIKA_SANDBOX_PORT; one set explicitly to where
    nothing answers is named in one warning line at start and shown unreachable by
    /ready, which stays ready (the other providers still serve)."""
    closed = f"http://127.0.0.1:{free_port()}/stripe"
    data_dirs = [work_dir / "a" / "pgdata", work_dir / "b" / "pgdata"]
    try:
        with (
            sika_run(work_dir / "a", data_dirs[0]) as first,
            sika_run(work_dir / "b", data_dirs[1], STRIPE_BASE_URL=closed) as second,
        ):
            assert first.wait_ready().json()["providers"] == {
                name: {"reachable": True, "error": None} for name in ("paystack", "fedapay", "stripe")
            }
            ready = second.wait_ready().json()
            assert ready["providers"]["paystack"] == {"reachable": True, "error": None}
            assert ready["providers"]["stripe"] == {"reachable": False, "error": "ConnectionRefusedError"}
            assert "Warning: unreachable at start: stripe at " + closed in second.output()
            assert "Warning" not in first.output()

            mine, theirs = _collect(first, 5_000), _collect(second, 7_000)
            assert _sandbox_payments(first) == [f"paystack:{mine['id']}"]
            assert _sandbox_payments(second) == [f"paystack:{theirs['id']}"]
            first.stop()
            second.stop()
    finally:
        for data_dir in data_dirs:
            _kill_postgres_in(data_dir)


def _worker_of(run: SikaRun) -> psutil.Process:
    """The run's job worker: a child process running ``sika worker``."""
    children = psutil.Process(run.process.pid).children()
    workers = [child for child in children if child.cmdline()[1:4] == ["-m", "sika", "worker"]]
    assert len(workers) == 1, [child.cmdline() for child in children]
    return workers[0]


def test_sika_run_runs_its_worker_in_a_process_of_its_own_and_stops_it(work_dir: Path) -> None:
    """A SIGTERM stops the worker with the API (the run waits for it, within its bound);
    a SIGKILL of the run takes the worker down too: no orphan either way."""
    data_dir = work_dir / "pgdata"
    try:
        with sika_run(work_dir, data_dir) as run:
            assert run.wait_ready().json()["checks"]["worker"]["ok"] is True
            worker = _worker_of(run)
            run.stop()
            assert not worker.is_running()
            assert "Traceback" not in run.output()
        with sika_run(work_dir, data_dir) as crashed:
            crashed.wait_ready()
            worker = _worker_of(crashed)
            crashed.crash()
            worker.wait(timeout=STOP_TIMEOUT_SECONDS)
            assert not worker.is_running()
    finally:
        _kill_postgres_in(data_dir)


async def _receive_and_wait(database_url: str, *, wait_seconds: float) -> str:
    """A signed webhook stored (its job deferred) as any API process would, then its
    status once it is no longer waiting (or still ``received`` at the timeout)."""
    secrets: dict[str, Any] = dict(SANDBOX_SECRETS)
    settings = Settings(ENV=Environment.test, **secrets)
    jobs_worker.build(database_url)
    data = {"id": 7, "status": "success", "reference": ids.new_id("col"), "amount": 100_000, "currency": "XOF"}
    body = json.dumps({"event": "charge.success", "data": {**data, "channel": "mobile_money"}})
    headers = signing.headers("paystack", body=body.encode(), settings=settings, timestamp=int(time.time()))
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        sessions = db.make_sessionmaker(engine)
        async with db.transaction(sessions) as session:
            received = await webhooks_service.receive(
                session, provider="paystack", body=body.encode(), headers=headers, settings=settings, now=clock.now()
            )
        assert isinstance(received, webhooks_service.Received)
        async with sessions() as session:
            stored = await webhooks_service.get_event(session, event_id=received.id)
        assert stored.status == "received", stored.last_error  # read, and waiting for the worker
        deadline = time.monotonic() + wait_seconds
        while True:
            async with sessions() as session:
                event = await webhooks_service.get_event(session, event_id=received.id)
            if event.status != "received" or time.monotonic() > deadline:
                return event.status
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def test_a_webhook_is_processed_while_the_api_process_is_starved(work_dir: Path) -> None:
    """The limit of a busy API: its process frozen outright (SIGSTOP). A webhook stored
    meanwhile (as another API process would) is still processed by the run's worker."""
    data_dir = work_dir / "pgdata"
    try:
        with sika_run(work_dir, data_dir, **SANDBOX_SECRETS) as run:
            run.wait_ready()
            run.process.send_signal(signal.SIGSTOP)
            try:
                url = f"postgresql://postgres:@/postgres?host={data_dir}"
                status = asyncio.run(_receive_and_wait(url, wait_seconds=STARTUP_TIMEOUT_SECONDS / 3))
            finally:
                run.process.send_signal(signal.SIGCONT)
            assert status == "unmatched", run.output()[-3000:]  # about no collection Sika knows
            run.stop()
    finally:
        _kill_postgres_in(data_dir)
