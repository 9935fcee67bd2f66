"""Sika over HTTP: a real server under wrk, against the in-process ledger figure.

    .venv/bin/python bench/http_api.py [--seconds 10] [--connections 16,64] [--api-processes 2]

Starts its own PostgreSQL (pgserver, in a temporary folder), migrates it and
makes an admin key, then serves the API from

* ``sika run`` (API and sandbox in one process, its job worker in another), then
* ``uvicorn --factory sika.asgi:create --workers N`` (N API processes, no
  worker) on the same database,

each on loopback with rate limits raised out of the way, and drives three
workloads with ``wrk`` (one thread; a Lua script gives every request its own
``Idempotency-Key`` and cycles request bodies) at each connection count:

* ``transfers``: ``POST /v1/ledger/transfers`` between random pairs of funded,
  overdraft-protected ledger accounts opened over the API;
* ``holds``: ``POST /v1/wallets/{id}/holds`` then ``POST /v1/holds/{id}/capture``
  (to another wallet, less a platform fee), wallets topped up over the API;
* ``webhooks``: signed Paystack ``charge.success`` webhooks, each a new event,
  about collections that a first webhook already made succeed (so processing
  each one finds its collection and changes nothing: outcome ``unchanged``).

For each it reports requests/s, p50/p99 latency, non-2xx answers, CPU
milliseconds per request of the API process(es) (children included, but for
``sika run``'s job worker, counted apart), of PostgreSQL and of wrk, and the
ratio of requests/s to the in-process grouped ledger path (``bench/ledger.py``'s
``measure_sika``, same accounts, same number of concurrent callers, measured in
the same run just before).

Webhook processing: after each intake, the events/s the worker processes
while it drains the backlog (polling the events' status), with the
worker process of ``sika run``, then with 1 and 2 ``sika worker``
processes on the backlog left by the uvicorn phases; each with its ratio to
the in-process figure of the same server's phases (at the most callers for
the ``sika worker`` processes).

Prints JSON. A benchmark, not a test: it asserts nothing but that the
ledger's invariants hold at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil
import psycopg

import ledger
from sika.auth import service as auth_service
from sika.core import db, migrate
from sika.core.config import Settings
from sika.core.context import Actor
from sika.sandbox import signing

REPO = Path(__file__).resolve().parent.parent
ACTOR = Actor(id="bench", scopes=frozenset({"admin"}))
UNLIMITED = "100000000/minute"
FUNDING_MINOR = 10**12
"""Each account's and wallet's opening balance: far more than a run can spend."""
COLLECTION_MINOR = 2_500
SUCCESS_PHONE = "+2250700000101"
"""A number the sandbox lets succeed; Orange Money then waits for an OTP, so the
sandbox sends no webhook of its own."""
PLATFORM_FEE_MINOR = 10
WEBHOOK_CEILING_PER_SECOND = 4_000
"""Distinct webhook bodies written per second of a phase: above any rate seen here,
so that every request is a new event (``repeated_bodies`` in the result says otherwise)."""
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0
SETUP_TIMEOUT_SECONDS = 300.0
WRK_GRACE_SECONDS = 60.0
"""Beyond its duration, how long wrk may take to start and report."""
POLL_SECONDS = 0.2
WRK_SCRIPT = r"""
-- bench/http_api.py's wrk script: wrk -t1 ... -s this.lua URL -- LINES PREFIX TOKEN MODE
-- LINES holds one request a line: path, TAB, body, TAB, extra (a Paystack
-- signature for webhooks; for holds, the capture body for that wallet's holds).
local lines, capture_body, captures = {}, {}, {}
local prefix, token, mode
local next_line, sent = 0, 0
local threads = {}
-- Globals, so that done() can read them from each thread.
statuses, repeated = {}, 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prefix, token, mode = args[2], args[3], args[4]
  for line in io.lines(args[1]) do
    local path, body, extra = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    lines[#lines + 1] = {path, body, extra}
    if mode == "holds" then
      capture_body[path:match("^/v1/wallets/([^/]+)/holds$")] = extra
    end
  end
end

function request()
  sent = sent + 1
  local headers = {["Content-Type"] = "application/json"}
  if mode ~= "webhooks" then
    headers["Authorization"] = "Bearer " .. token
    headers["Idempotency-Key"] = prefix .. "-" .. sent
  end
  if #captures > 0 then
    local capture = table.remove(captures)
    return wrk.format("POST", capture[1], headers, capture[2])
  end
  next_line = next_line + 1
  if next_line > #lines then
    next_line, repeated = 1, repeated + 1
  end
  local line = lines[next_line]
  if mode == "webhooks" then
    headers["x-paystack-signature"] = line[3]
  end
  return wrk.format("POST", line[1], headers, line[2])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if mode == "holds" and status == 201 then
    local hold = body:match('^{"id":"([^"]+)"')
    local wallet = body:match('"wallet_id":"([^"]+)"')
    captures[#captures + 1] = {"/v1/holds/" .. hold .. "/capture", capture_body[wallet]}
  end
end

function done(summary, latency, requests)
  local counts, parts, laps = {}, {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
    laps = laps + thread:get("repeated")
  end
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d,'
      .. ' "socket_errors": %d, "timeouts": %d, "laps": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write, errors.timeout, laps, table.concat(parts, ", ")))
end
"""


# ---------------------------------------------------------------- the tools


def ensure_wrk() -> str:
    """wrk's path; installed from Debian when missing and this machine lets us."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing it with apt-get", file=sys.stderr)
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300, check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True, timeout=300, check=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("bench/http_api.py needs wrk: install it (Debian: apt-get install wrk) and run again.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def git_commit() -> str:
    """The commit measured, ``-dirty`` when tracked files differ from it."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def is_job_worker(process: psutil.Process) -> bool:
    """``sika worker``: what ``sika run`` starts beside its API."""
    try:
        command: list[str] = process.cmdline()
    except psutil.Error:
        return False
    return command[1:4] == ["-m", "sika", "worker"]


def cpu_seconds(pid: int, *, job_workers: bool = False) -> float:
    """CPU time of a process and all its descendants, the reaped ones included: those
    that serve the API, or with ``job_workers`` the ``sika worker`` processes among them."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        if is_job_worker(process) is not job_workers:
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def reaped_children_cpu_seconds() -> float:
    """CPU time of this process's children that have been waited for."""
    times = os.times()
    return times.children_user + times.children_system


# ---------------------------------------------------------------- the database


def start_database(data_dir: Path) -> tuple[db.EmbeddedPostgres, str]:
    embedded = db.EmbeddedPostgres(data_dir=data_dir)
    server_url = embedded.start()
    with psycopg.connect(db.libpq_url(server_url), autocommit=True) as connection:
        connection.execute("CREATE DATABASE sika_bench")
    url = server_url.replace("/postgres?", "/sika_bench?")
    migrate.upgrade(url)
    return embedded, url


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


async def create_admin_key(url: str) -> str:
    """A key with the admin and platform scopes: with platforms, a platform key is bound to the
    installation's only platform, so every workload runs through the platform filter."""
    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction(db.make_sessionmaker(engine)) as session:
            created = await auth_service.create_key(
                session, name="bench", scopes=["admin", "platform"], expires_at=None, actor=ACTOR
            )
    finally:
        await engine.dispose()
    return created.secret


def webhook_counts(url: str) -> tuple[int, int]:
    """(events stored, events still waiting for their job)."""
    with psycopg.connect(db.libpq_url(url)) as connection:
        row = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'received') FROM webhooks_inbound_events"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def processed_events(url: str) -> int:
    stored, waiting = webhook_counts(url)
    return stored - waiting


def webhook_outcomes(url: str) -> dict[str, int]:
    with psycopg.connect(db.libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT status || coalesce('/' || outcome, ''), count(*) FROM webhooks_inbound_events GROUP BY 1"
        ).fetchall()
    return {str(name): int(n) for name, n in rows}


# ---------------------------------------------------------------- server processes


@dataclass
class Server:
    """A process group the bench started: ``sika run``, uvicorn or ``sika worker``."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def cpu_seconds(self, *, job_workers: bool = False) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid, job_workers=job_workers)

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{self.name} exited with {self.process.returncode}; its log ends with:\n{tail}")

    def stop(self) -> None:
        """SIGTERM to the group (a graceful stop), then SIGKILL to whatever is left of it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop in {STOP_TIMEOUT_SECONDS} s: killed", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            # Its own workers too, should it have left any behind.
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextlib.contextmanager
def running(server: Server, *, health_url: str | None = None) -> Iterator[Server]:
    server.start()
    try:
        if health_url is not None:
            wait_healthy(server, health_url)
        yield server
    finally:
        server.stop()


def wait_healthy(server: Server, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        server.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"{server.name} was not healthy at {url} within {START_TIMEOUT_SECONDS} s (log: {server.log})")


def server_env(url: str, *, api_port: int, sandbox_port: int) -> dict[str, str]:
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SIKA_ENV": "development",
        "SIKA_HOST": "127.0.0.1",
        "SIKA_PORT": str(api_port),
        "SIKA_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "SIKA_SANDBOX_HOST": "127.0.0.1",
        "SIKA_SANDBOX_PORT": str(sandbox_port),
        "SIKA_PAYSTACK_BASE_URL": f"{sandbox}/paystack",
        "SIKA_FEDAPAY_BASE_URL": f"{sandbox}/fedapay",
        "SIKA_STRIPE_BASE_URL": f"{sandbox}/stripe",
        "SIKA_RATE_LIMIT_PER_KEY": UNLIMITED,
        "SIKA_RATE_LIMIT_PER_ADDRESS": UNLIMITED,
    }


def sika_run(env: dict[str, str], logs: Path, *, worker_concurrency: int) -> Server:
    command = [sys.executable, "-m", "sika", "run", "--worker-concurrency", str(worker_concurrency)]
    return Server("sika run", command, env, logs / "sika-run.log")


def uvicorn_api(env: dict[str, str], logs: Path, *, processes: int) -> Server:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "sika.asgi:create",
        "--host", "127.0.0.1", "--port", env["SIKA_PORT"], "--workers", str(processes),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return Server(f"uvicorn --workers {processes}", command, env, logs / "uvicorn.log")


def sika_worker(env: dict[str, str], logs: Path, *, number: int, concurrency: int) -> Server:
    command = [sys.executable, "-m", "sika", "worker", "--concurrency", str(concurrency)]
    return Server(f"sika worker {number}", command, env, logs / f"sika-worker-{number}.log")


# ---------------------------------------------------------------- fixtures over the API


@dataclass
class Fixtures:
    accounts: list[str]
    wallets: list[str]
    collections: list[str]


class Api:
    """Setup calls over HTTP, a few at a time; any answer but the expected one stops the bench."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.key = key
        self.keys = itertools.count()
        self.gate = asyncio.Semaphore(8)

    async def post(self, path: str, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": f"bench-setup-{next(self.keys)}"}
        async with self.gate:
            response = await self.client.post(path, json=body, headers=headers)
        if response.status_code != expect:
            raise SystemExit(f"setup: POST {path} answered {response.status_code}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer


class Poster(Protocol):
    """What opens the fixtures: this bench's client over HTTP, or bench/request_cpu.py's in-process one."""

    async def post(self, path: str, body: dict[str, Any], *, expect: int = 201) -> dict[str, Any]: ...


async def each(items: Sequence[Any], call: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*(call(item) for item in items)))


async def open_accounts(api: Poster, count: int) -> list[str]:
    world = await api.post("/v1/ledger/accounts", {"currency": "XOF", "kind": "bench.world"})

    async def funded(number: int) -> str:
        account = await api.post(
            "/v1/ledger/accounts",
            {"currency": "XOF", "kind": "bench.account", "debits_must_not_exceed_credits": True},
        )
        await api.post(
            "/v1/ledger/transfers", transfer_body(world["id"], account["id"], FUNDING_MINOR, "bench.funding")
        )
        return str(account["id"])

    return await each(range(count), funded)


async def open_wallets(api: Poster, count: int) -> list[tuple[str, str]]:
    """(party, wallet) pairs, each wallet topped up."""

    async def wallet(number: int) -> tuple[str, str]:
        party = await api.post(
            "/v1/parties",
            {
                "display_name": f"Bench party {number}",
                "type": "individual",
                "country": "CI",
                "email": f"bench{number}@example.ci",
                "phone": SUCCESS_PHONE,
            },
        )
        opened = await api.post(f"/v1/parties/{party['id']}/wallets", {"currency": "XOF"})
        await api.post(f"/v1/wallets/{opened['id']}/top-ups", {"amount_minor": FUNDING_MINOR})
        return str(party["id"]), str(opened["id"])

    return await each(range(count), wallet)


async def open_collections(api: Api, owners: Sequence[tuple[str, str]], count: int) -> list[str]:
    """Orange Money collections waiting for their customer's OTP."""

    async def collection(number: int) -> str:
        party_id, wallet_id = owners[number % len(owners)]
        body = {
            "party_id": party_id,
            "wallet_id": wallet_id,
            "amount_minor": COLLECTION_MINOR,
            "currency": "XOF",
            "method": {"type": "mobile_money", "operator": "orange", "phone": SUCCESS_PHONE},
        }
        opened = await api.post("/v1/collections", body)
        if opened["status"] != "action_required":
            raise SystemExit(f"setup: a collection is {opened['status']}, not action_required: {opened}")
        return str(opened["id"])

    return await each(range(count), collection)


async def succeed_collections(client: httpx.AsyncClient, collections: Sequence[str]) -> None:
    """One first webhook per collection: once applied, each collection has succeeded."""
    gate = asyncio.Semaphore(8)

    async def deliver(line: str) -> None:
        path, body, signature = line.split("\t")
        async with gate:
            response = await client.post(
                path, content=body, headers={"content-type": "application/json", "x-paystack-signature": signature}
            )
        if response.status_code != 200:
            raise SystemExit(f"setup: a webhook answered {response.status_code}: {response.text}")

    await each(list(webhook_lines(collections, range(len(collections)))), deliver)


def wait_first_webhooks(url: str, collections: Sequence[str], *, check: Callable[[], None]) -> None:
    """Until the worker has applied the first webhooks: every collection succeeded."""
    deadline = time.monotonic() + SETUP_TIMEOUT_SECONDS
    while webhook_counts(url)[1] and time.monotonic() < deadline:
        check()
        time.sleep(POLL_SECONDS)
    outcomes = webhook_outcomes(url)
    if outcomes != {"processed/changed": len(collections)}:
        raise SystemExit(f"setup: the first webhooks ended as {outcomes}, not all processed/changed")


async def make_fixtures(base: str, key: str, args: argparse.Namespace) -> Fixtures:
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        api = Api(client, key)
        accounts = await open_accounts(api, args.accounts)
        owners = await open_wallets(api, args.wallets)
        collections = await open_collections(api, owners, args.collections)
        await succeed_collections(client, collections)
    return Fixtures(accounts=accounts, wallets=[wallet for _, wallet in owners], collections=collections)


# ---------------------------------------------------------------- request lines for wrk


def transfer_body(debit: str, credit: str, amount: int, code: str) -> dict[str, Any]:
    return {
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount_minor": amount,
        "currency": "XOF",
        "code": code,
    }


def compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


def transfer_lines(accounts: Sequence[str], count: int) -> Iterator[str]:
    for _ in range(count):
        debit, credit = random.sample(accounts, 2)
        yield f"/v1/ledger/transfers\t{compact(transfer_body(debit, credit, random.randint(1, 1000), 'bench'))}\t"


def hold_lines(wallets: Sequence[str]) -> Iterator[str]:
    """One line per wallet; its holds are captured to the next wallet, less a platform fee."""
    for number, wallet in enumerate(wallets):
        hold = {"amount_minor": random.randint(100, 1000), "reason": "bench order"}
        capture = {
            "destination_wallet_id": wallets[(number + 1) % len(wallets)],
            "platform_fee_minor": PLATFORM_FEE_MINOR,
        }
        yield f"/v1/wallets/{wallet}/holds\t{compact(hold)}\t{compact(capture)}"


def webhook_lines(collections: Sequence[str], charge_ids: Iterable[int]) -> Iterator[str]:
    """Signed Paystack ``charge.success`` webhooks, one event per charge id,
    about the collections in turn."""
    settings = Settings()
    for charge_id, reference in zip(charge_ids, itertools.cycle(collections), strict=False):
        payload = {
            "event": "charge.success",
            "data": {
                "id": charge_id,
                "status": "success",
                "reference": reference,
                "amount": COLLECTION_MINOR * 100,  # Paystack's wire unit: hundredths, XOF too
                "currency": "XOF",
                "channel": "mobile_money",
                "gateway_response": "Approved",
            },
        }
        body = compact(payload)
        signature = signing.headers("paystack", body=body.encode(), settings=settings, timestamp=int(time.time()))
        yield f"/v1/webhooks/paystack\t{body}\t{signature['x-paystack-signature']}"


# ---------------------------------------------------------------- one wrk phase


@dataclass
class Target:
    """What a phase drives and whose CPU it counts."""

    base: str
    key: str
    api: Server
    postmaster: int
    work_dir: Path
    script: Path


def run_wrk(target: Target, *, mode: str, lines: Iterator[str], connections: int, seconds: float) -> dict[str, Any]:
    lines_file = target.work_dir / f"{mode}-{connections}.lines"
    lines_file.write_text("\n".join(lines) + "\n")
    prefix = f"bench-{mode}-{connections}-{time.time_ns()}"
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
        "-s", str(target.script), target.base, "--", str(lines_file), prefix, target.key, mode,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + WRK_GRACE_SECONDS)
    finally:
        lines_file.unlink()
    marker = next((line for line in done.stdout.splitlines() if line.startswith("BENCH-RESULT ")), None)
    if done.returncode != 0 or marker is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(marker.removeprefix("BENCH-RESULT "))
    return result


def measure(
    target: Target, *, mode: str, lines: Iterator[str], connections: int, seconds: float, in_process_tps: float
) -> dict[str, Any]:
    target.api.check_alive()
    api_before, worker_before, pg_before, wrk_before = (
        target.api.cpu_seconds(),
        target.api.cpu_seconds(job_workers=True),
        cpu_seconds(target.postmaster),
        reaped_children_cpu_seconds(),
    )
    raw = run_wrk(target, mode=mode, lines=lines, connections=connections, seconds=seconds)
    api_cpu = target.api.cpu_seconds() - api_before
    worker_cpu = target.api.cpu_seconds(job_workers=True) - worker_before
    pg_cpu = cpu_seconds(target.postmaster) - pg_before
    wrk_cpu = reaped_children_cpu_seconds() - wrk_before
    requests = max(raw["requests"], 1)
    rate = raw["requests"] / (raw["duration_us"] / 1e6)
    statuses = {int(status): n for status, n in raw["statuses"].items()}
    return {
        "requests_per_second": round(rate, 1),
        "requests": raw["requests"],
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "statuses": {str(status): statuses[status] for status in sorted(statuses)},
        "socket_errors": raw["socket_errors"],
        "timeouts": raw["timeouts"],
        "api_cpu_ms_per_request": round(api_cpu * 1000 / requests, 3),
        "job_worker_cpu_ms_per_request": round(worker_cpu * 1000 / requests, 3),
        "postgres_cpu_ms_per_request": round(pg_cpu * 1000 / requests, 3),
        "wrk_cpu_ms_per_request": round(wrk_cpu * 1000 / requests, 3),
        "ratio_to_in_process": ratio(rate, in_process_tps),
        **({"repeated_bodies": raw["laps"] > 0} if mode == "webhooks" else {}),
    }


def ratio(rate: float | None, in_process_tps: float) -> float | None:
    return round(rate / in_process_tps, 3) if rate is not None and in_process_tps else None


def in_process(url: str, accounts: list[str], *, connections: int, seconds: float) -> dict[str, Any]:
    """bench/ledger.py's grouped-path figure on the same accounts and database.
    (Its CPU is not reported: the measuring process's start-up would weigh in it.)"""
    figure: dict[str, Any] = ledger.measure_sika(
        url, "uniform", accounts, accounts[0], clients=connections, seconds=seconds, processes=1
    )
    return figure


# ---------------------------------------------------------------- webhook processing


def drain(
    url: str,
    *,
    budget_seconds: float,
    check: Callable[[], None],
    cpu: Callable[[], tuple[float, float]],
    until: int = 0,
) -> dict[str, Any]:
    """Wait until at most ``until`` events are left waiting (or the budget runs
    out). The rate is timed from the first event processed after the call to the
    last, so a worker's start-up does not count; so is the CPU that ``cpu`` reads
    (the workers', PostgreSQL's), which says what limits the rate: a worker process
    near one core (``worker_cores``) is bound by its own event loop."""
    _, backlog = webhook_counts(url)
    deadline = time.monotonic() + budget_seconds
    first: tuple[float, int, tuple[float, float]] | None = None
    last = (time.monotonic(), backlog, cpu())
    while last[1] > until and time.monotonic() < deadline:
        check()
        time.sleep(POLL_SECONDS)
        last = (time.monotonic(), webhook_counts(url)[1], cpu())
        if first is None and last[1] < backlog:
            first = last
    figures: dict[str, Any] = {"backlog": backlog, "left": last[1], "events_per_second": None}
    if first is not None and last[0] > first[0] and first[1] > last[1]:
        elapsed, events = last[0] - first[0], first[1] - last[1]
        worker_cpu, postgres_cpu = (last[2][k] - first[2][k] for k in (0, 1))
        figures["events_per_second"] = round(events / elapsed, 1)
        figures["worker_cpu_ms_per_event"] = round(worker_cpu * 1000 / events, 2)
        figures["postgres_cpu_ms_per_event"] = round(postgres_cpu * 1000 / events, 2)
        figures["worker_cores"] = round(worker_cpu / elapsed, 2)
    return figures


# ---------------------------------------------------------------- one server configuration


WORKLOADS = ("transfers", "holds", "webhooks")


class Charges:
    """Charge ids never used before in this run: each webhook is a new event."""

    def __init__(self, first: int) -> None:
        self.next = first

    def take(self, count: int) -> range:
        taken = range(self.next, self.next + count)
        self.next += count
        return taken


def lines_for(mode: str, fixtures: Fixtures, charges: Charges, seconds: float) -> Iterator[str]:
    if mode == "transfers":
        return transfer_lines(fixtures.accounts, 2_000)
    if mode == "holds":
        return hold_lines(fixtures.wallets)
    count = int(seconds * WEBHOOK_CEILING_PER_SECOND)
    return webhook_lines(fixtures.collections, charges.take(count))


def warm_up(target: Target, fixtures: Fixtures, charges: Charges) -> None:
    """A second of each workload that needs no worker, so first calls do not count."""
    for mode in ("transfers", "holds"):
        run_wrk(target, mode=mode, lines=lines_for(mode, fixtures, charges, 1), connections=16, seconds=1)


def drive(
    target: Target,
    url: str,
    fixtures: Fixtures,
    charges: Charges,
    args: argparse.Namespace,
    *,
    drain_each_webhook_phase: bool,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Every workload at every connection count: (in-process figures, results, drains)."""
    warm_up(target, fixtures, charges)
    reference: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {mode: {} for mode in WORKLOADS}
    drains: list[dict[str, Any]] = []
    for connections in args.connection_counts:
        print(f"{target.api.name}: in-process ledger, {connections} callers", file=sys.stderr)
        reference[str(connections)] = in_process(url, fixtures.accounts, connections=connections, seconds=args.seconds)
        tps = reference[str(connections)]["tps"]
        for mode in WORKLOADS:
            print(f"{target.api.name}: {mode}, {connections} connections", file=sys.stderr)
            processed_before = processed_events(url)
            lines = lines_for(mode, fixtures, charges, args.seconds)
            result = measure(
                target, mode=mode, lines=lines, connections=connections, seconds=args.seconds, in_process_tps=tps
            )
            if mode == "webhooks":
                result["processed_during_intake"] = processed_events(url) - processed_before
            results[mode][str(connections)] = result
            if mode == "webhooks" and drain_each_webhook_phase:
                print(f"{target.api.name}: draining webhooks with its worker process", file=sys.stderr)
                drained = drain(
                    url,
                    budget_seconds=args.drain_budget,
                    check=target.api.check_alive,
                    cpu=lambda: (target.api.cpu_seconds(job_workers=True), cpu_seconds(target.postmaster)),
                )
                worker = f"sika run's worker process (concurrency {args.worker_concurrency})"
                drains.append({"after_connections": connections, "worker": worker, **drained})
                drains[-1]["ratio_to_in_process"] = ratio(drained["events_per_second"], tps)
    return reference, results, drains


def drain_with_workers(
    url: str, env: dict[str, str], logs: Path, args: argparse.Namespace, *, postmaster: int, workers: int, until: int
) -> dict[str, Any]:
    """Start ``workers`` ``sika worker`` processes on the backlog, time them until
    ``until`` events are left (or the budget runs out), and stop them."""
    servers = [
        sika_worker(env, logs, number=number, concurrency=args.worker_concurrency) for number in range(1, workers + 1)
    ]
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.enter_context(running(server))

        def check() -> None:
            for server in servers:
                server.check_alive()

        def cpu() -> tuple[float, float]:
            workers_cpu = sum(server.cpu_seconds(job_workers=True) for server in servers)
            return workers_cpu, cpu_seconds(postmaster)

        drained = drain(url, budget_seconds=args.drain_budget, check=check, cpu=cpu, until=until)
    return {"worker": f"{workers} x sika worker --concurrency {args.worker_concurrency}", **drained}


# ---------------------------------------------------------------- main


def http_parser(description: str | None, *, seconds: float, collections: int) -> argparse.ArgumentParser:
    """The options every HTTP bench takes (``parsed`` reads them)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=seconds, help="Length of each measured phase.")
    parser.add_argument("--connections", default="16,64", help="wrk connection counts, comma-separated.")
    parser.add_argument("--api-processes", type=int, default=2, help="uvicorn --workers of the uvicorn servers.")
    parser.add_argument("--accounts", type=int, default=256, help="Ledger accounts for the transfers.")
    parser.add_argument("--collections", type=int, default=collections, help="Collections the webhooks are about.")
    return parser


def parsed(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    args.connection_counts = [int(c) for c in args.connections.split(",")]
    return args


def parse_args() -> argparse.Namespace:
    parser = http_parser(__doc__, seconds=10.0, collections=64)
    parser.add_argument("--worker-concurrency", type=int, default=4, help="sika worker --concurrency.")
    parser.add_argument("--wallets", type=int, default=128, help="Wallets for the holds.")
    parser.add_argument("--drain-budget", type=float, default=120.0, help="Longest wait for a webhook backlog.")
    return parsed(parser)


def run(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    logs = work_dir / "logs"
    logs.mkdir()
    script = work_dir / "bench.lua"
    script.write_text(WRK_SCRIPT)
    data_dir = work_dir / "pgdata"
    embedded, url = start_database(data_dir)
    try:
        key = asyncio.run(create_admin_key(url))
        api_port = free_port()
        env = server_env(url, api_port=api_port, sandbox_port=free_port())
        base = f"http://127.0.0.1:{api_port}"
        postmaster = postmaster_pid(data_dir)
        charges = Charges(first=1)
        report: dict[str, Any] = {}

        with running(
            sika_run(env, logs, worker_concurrency=args.worker_concurrency), health_url=f"{base}/health"
        ) as server:
            print("setup: accounts, wallets and collections over the API", file=sys.stderr)
            started = time.perf_counter()
            fixtures = asyncio.run(make_fixtures(base, key, args))
            wait_first_webhooks(url, fixtures.collections, check=server.check_alive)
            charges.take(len(fixtures.collections))
            print(f"setup: done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            target = Target(base, key, server, postmaster, work_dir, script)
            in_proc, results, drains = drive(target, url, fixtures, charges, args, drain_each_webhook_phase=True)
            report["sika run"] = {"in_process": in_proc, "results": results, "webhook_processing": drains}

        name = f"uvicorn --workers {args.api_processes}"
        with running(uvicorn_api(env, logs, processes=args.api_processes), health_url=f"{base}/health") as server:
            target = Target(base, key, server, postmaster, work_dir, script)
            in_proc, results, _ = drive(target, url, fixtures, charges, args, drain_each_webhook_phase=False)
            report[name] = {"in_process": in_proc, "results": results}
        # The uvicorn phases left their webhooks waiting: one worker process takes
        # the first half of the backlog, two take the rest.
        _, backlog = webhook_counts(url)
        print(f"webhooks: {backlog} events left for sika worker processes", file=sys.stderr)
        # Against the in-process figure at the most callers, measured in the uvicorn phases.
        reference_tps = in_proc[str(max(args.connection_counts))]["tps"]
        processing = [
            drain_with_workers(url, env, logs, args, postmaster=postmaster, workers=1, until=backlog // 2),
            drain_with_workers(url, env, logs, args, postmaster=postmaster, workers=2, until=0),
        ]
        for drained in processing:
            drained["ratio_to_in_process"] = ratio(drained["events_per_second"], reference_tps)
        report[name]["webhook_processing"] = processing
        return {
            "results": report,
            "webhook_outcomes": webhook_outcomes(url),
            "invariants": asyncio.run(ledger.check_invariants(url)),
            "server": ledger.server_settings(url),
        }
    finally:
        embedded.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_in_work_dir(
    bench: str, run: Callable[[argparse.Namespace, Path], dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    """``run(args, work_dir)`` in a fresh temporary folder, removed afterwards; when it fails,
    the servers' logs are kept there and named. A SIGTERM still runs the ``finally`` blocks
    that stop the servers and PostgreSQL."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    ensure_wrk()
    work_dir = Path(tempfile.mkdtemp(prefix=f"sika-bench-{bench}-"))
    try:
        measured = run(args, work_dir)
    except BaseException:
        shutil.rmtree(work_dir / "pgdata", ignore_errors=True)
        print(f"bench/{bench}.py failed; the servers' logs are kept in {work_dir / 'logs'}", file=sys.stderr)
        raise
    shutil.rmtree(work_dir, ignore_errors=True)
    return measured


def report_head(phase_seconds: float) -> dict[str, Any]:
    """What every HTTP report starts with: when, which commit, on what."""
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "phase_seconds": phase_seconds,
    }


def main() -> None:
    args = parse_args()
    measured = run_in_work_dir("http_api", run, args)
    report = {
        **report_head(args.seconds),
        "connections": args.connection_counts,
        "load_generator": "wrk -t1 (one thread), a Lua script: a new Idempotency-Key per request, bodies cycled",
        "servers": {
            "sika run": "API and sandbox in one process, its job worker (sika worker) in a child process",
            f"uvicorn --workers {args.api_processes}": "API processes only; webhooks wait for sika worker processes",
        },
        "worker_concurrency": args.worker_concurrency,
        "workloads": {
            "transfers": f"POST /v1/ledger/transfers between random pairs of {args.accounts} funded accounts",
            "holds": (
                f"POST /v1/wallets/{{id}}/holds then POST /v1/holds/{{id}}/capture (to another wallet, fee"
                f" {PLATFORM_FEE_MINOR}) over {args.wallets} wallets; each counts as a request"
            ),
            "webhooks": (
                f"signed Paystack charge.success, a new event each, about {args.collections} collections"
                " already succeeded (processing outcome: unchanged)"
            ),
        },
        "in_process": "bench/ledger.py measure_sika, uniform, same accounts, one process, callers = connections",
        **measured,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
