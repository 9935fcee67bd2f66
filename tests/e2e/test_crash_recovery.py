"""``sika run`` SIGKILLed while Paystack takes its time to ask for an OTP, then
restarted: reconciliation gives the customer the OTP step back, a retry of the
request gets the collection (not 409), and the OTP credits the wallet once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.support.sandbox import SANDBOX_SECRETS, free_port, running_sandbox, sandbox_settings

STARTUP_TIMEOUT_SECONDS = 120
SLOW_PHONE = "+2250700000054"
"""The sandbox's ``latency`` number: Paystack answers after SANDBOX_LATENCY_SECONDS."""
LATENCY_SECONDS = 4.0
"""Long enough that the kill lands while Paystack is still silent, however slow this machine."""
KILL_AFTER_SECONDS = 1.2
AMOUNT = 5_000
OTP = "123456"


class SikaRun:
    """``sika run`` on a data folder of its own, its Paystack the sandbox this test serves
    (which outlives the kill, as the real Paystack would)."""

    def __init__(self, tmp_path: Path, sandbox_url: str, *, port: int) -> None:
        self.port = port
        self.tmp_path = tmp_path
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            **{f"SIKA_{name}": value for name, value in SANDBOX_SECRETS.items()},
            "SIKA_PORT": str(self.port),
            "SIKA_SANDBOX_PORT": str(free_port()),
            "SIKA_PGDATA_DIR": str(tmp_path / "pgdata"),
            "SIKA_PAYSTACK_BASE_URL": f"{sandbox_url}/paystack",
            # Reconciliation runs when this test asks for it, not behind its back.
            "SIKA_RECONCILE_AFTER_SECONDS": "3600",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.runs += 1
        with (self.tmp_path / f"run-{self.runs}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sika", "run"],
                cwd=self.tmp_path,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(self.log()[-3000:])

    def log(self) -> str:
        return (self.tmp_path / f"run-{self.runs}.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL its whole process group: no cleanup, no graceful anything."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        for process in _postgres_of(self.tmp_path / "pgdata"):
            process.terminate()  # one a SIGKILL orphaned, if it outlived its group

    def reconcile(self) -> str:
        """``sika reconcile`` as an operator runs it, asking about everything open."""
        done = subprocess.run(
            [sys.executable, "-m", "sika", "reconcile"],
            cwd=self.tmp_path,
            env={**self.env, "SIKA_RECONCILE_AFTER_SECONDS": "0"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def _postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any("postgres" in part for part in cmdline[:1]) and str(data_dir) in cmdline:
            found.append(process)
    return found


@contextmanager
def sika_run(tmp_path: Path) -> Iterator[SikaRun]:
    port = free_port()
    settings = sandbox_settings(SANDBOX_LATENCY_SECONDS=LATENCY_SECONDS)
    with running_sandbox(settings, webhook_target=f"http://127.0.0.1:{port}/v1/webhooks") as sandbox_url:
        run = SikaRun(tmp_path, sandbox_url, port=port)
        try:
            yield run
        finally:
            run.stop()


def _made(run: SikaRun, headers: dict[str, str], key: str) -> list[dict[str, Any]]:
    """The collections the request with ``key`` made."""
    found = httpx.get(f"{run.url}/v1/collections", params={"idempotency_key": key}, headers=headers, timeout=10)
    data: list[dict[str, Any]] = found.json()["data"]
    return data


def _post(run: SikaRun, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{run.url}{path}", json=body, headers=headers, timeout=30)


def test_a_crash_during_an_otp_collection_is_finished_and_credited_once(tmp_path: Path) -> None:
    with sika_run(tmp_path) as run:
        run.start()
        admin = {"Authorization": f"Bearer {(tmp_path / 'admin-key').read_text().strip()}"}
        party = _post(
            run,
            "/v1/parties",
            {"display_name": "Kofi", "type": "individual", "country": "CI", "email": "kofi@example.ci"},
            admin,
        ).json()
        wallet = _post(run, f"/v1/parties/{party['id']}/wallets", {"currency": "XOF"}, admin).json()
        body = {
            "party_id": party["id"],
            "wallet_id": wallet["id"],
            "amount_minor": AMOUNT,
            "currency": "XOF",
            "method": {"type": "mobile_money", "operator": "orange", "phone": SLOW_PHONE},
        }
        keyed = {**admin, "Idempotency-Key": "order-crash-1"}
        cut_short: list[BaseException] = []

        def send() -> None:
            try:
                _post(run, "/v1/collections", body, keyed)
            except httpx.TransportError as exc:
                cut_short.append(exc)

        sender = threading.Thread(target=send)
        sent_at = time.monotonic()
        sender.start()
        time.sleep(KILL_AFTER_SECONDS)
        while not _made(run, admin, "order-crash-1"):  # the first phase has committed
            time.sleep(0.05)
        run.kill()
        assert time.monotonic() - sent_at < LATENCY_SECONDS, "killed after Paystack answered"
        sender.join(timeout=30)
        assert cut_short, "the request was answered before the kill"
        time.sleep(LATENCY_SECONDS)  # Paystack, unaware, records the charge and waits for the OTP

        run.start()
        found = _made(run, admin, "order-crash-1")
        assert [c["status"] for c in found] == ["initiated"]
        collection_id = found[0]["id"]
        early = _post(run, "/v1/collections", body, keyed)
        assert early.status_code == 409, early.text  # within the lease, and its phases not done

        run.reconcile()
        shown = httpx.get(f"{run.url}/v1/collections/{collection_id}", headers=admin, timeout=10).json()
        assert shown["status"] == "action_required", shown
        assert shown["next_action"]["type"] == "submit_otp"
        retry = _post(run, "/v1/collections", body, keyed)
        assert retry.status_code == 201, retry.text
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json() == shown

        otp_headers = {**admin, "Idempotency-Key": "otp-crash-1"}
        done = _post(run, f"/v1/collections/{collection_id}/otp", {"otp": OTP}, otp_headers)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "succeeded"
        again = _post(run, f"/v1/collections/{collection_id}/otp", {"otp": OTP}, otp_headers)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["status"] == "succeeded"
        balance = httpx.get(f"{run.url}/v1/wallets/{wallet['id']}", headers=admin, timeout=10).json()
        assert balance["balance_minor"] == AMOUNT, balance
