"""The floor of the HTTP path on this machine: how fast a server with no framework
answers a transfer and a Paystack webhook when it sends exactly Sika's statements,
against Sika itself, in one run.

    .venv/bin/python bench/http_floor.py [--seconds 5] [--connections 16,64] [--api-processes 2]

The floor app (``create``, served by ``uvicorn --factory http_floor:create``) does
only what each request's transaction needs, with Sika's own statements and helpers:

* ``POST /v1/ledger/transfers``: the idempotency claim, the ledger call for one
  transfer, the stored answer, the commit (the five round trips of Sika's request);
* ``POST /v1/webhooks/paystack``: the signature check, the event read, the insert
  that stores it and defers its job, the commit.

No authentication (Sika's key cache sends no statement either), rate limit, request
model, logging, metrics or problem documents: whatever a Python server on this
schema does, it does at least this. It is a measuring device, not a server.

Both servers run as ``uvicorn --workers N`` (uvloop, httptools) on one database,
driven by ``bench/http_api.py``'s wrk script, each phase after the in-process
ledger figure at the same number of callers. For each it prints requests/s,
p99, CPU milliseconds per request of the API processes and of PostgreSQL, the
ratio to the in-process figure, and Sika's share of the floor's rate.

Prints JSON. A benchmark, not a test: it asserts nothing but that every answer
was a 2xx and that the ledger's invariants hold at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import http_api
import psycopg
from psycopg_pool import AsyncConnectionPool

import ledger
from sika import worker
from sika.core import db
from sika.core.config import Settings
from sika.core.context import Actor
from sika.idempotency import repository as keys
from sika.jobs import app as jobs_app
from sika.ledger import repository as ledger_repository
from sika.ledger.service import writer
from sika.providers import signatures
from sika.providers.base import ProviderName
from sika.webhooks import repository as events
from sika.webhooks import service as webhooks

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

WORKLOADS = ("transfers", "webhooks")
OWNER = "floor"
ACTOR = Actor(id="key:floor", request_id="req_floor")
KEY_LIFETIME = timedelta(hours=24)


class Floor:
    """The floor app: one pool of the request slots' size, as Sika's transactions have."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.pool: AsyncConnectionPool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["path"] == "/health":
            await answer(send, 200, b"{}")
            return
        body = await read_body(receive)
        assert self.pool is not None
        # Answered once committed, as Sika answers.
        async with self.pool.connection() as connection, connection.transaction():
            if scope["path"] == "/v1/webhooks/paystack":
                status, answer_body = await self.webhook(connection, scope, body)
            else:
                status, answer_body = await self.transfer(connection, scope, body)
        await answer(send, status, answer_body)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = db.libpq_url(self.settings.DATABASE_URL or "")
                worker.build(url)
                size = self.settings.DB_REQUEST_SLOTS or self.settings.DB_POOL_SIZE
                self.pool = AsyncConnectionPool(url, min_size=size, max_size=size, open=False)
                await self.pool.open(wait=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def transfer(self, connection: psycopg.AsyncConnection[Any], scope: Scope, body: bytes) -> tuple[int, bytes]:
        key = dict(scope["headers"])[b"idempotency-key"].decode()
        now = datetime.now(UTC)
        claim = {
            "owner": OWNER,
            "key": key,
            "fingerprint": hashlib.sha256(body).hexdigest(),
            "expires_at": now + KEY_LIFETIME,
            "now": now,
        }
        claimed = await (await connection.execute(keys.CLAIM, claim)).fetchone()
        if claimed is None:
            raise RuntimeError(f"the floor reused an idempotency key: {key}")
        fields = json.loads(body)
        request = writer.transfer_request(
            **fields,
            pending=False,
            timeout_seconds=None,
            transfer_id=None,
            metadata=None,
            journal_id=None,
            actor=ACTOR,
            allow_managed=False,
        )
        parameters = ledger_repository.apply_parameters(
            [request], now=now, atomic=True, lock_retries=ledger_repository.IN_TRANSACTION_LOCK_RETRIES
        )
        statement, arguments = ledger_repository.call(parameters)
        cursor = await connection.execute(statement, arguments)
        (row,) = ledger_repository.applied_rows(await cursor.fetchall())
        status = 201 if row.error_code is None else 409
        answer_body = json.dumps({"id": row.id, "error": row.error_code, "created_at": row.created_at.isoformat()})
        stored = {"status": status, "body": answer_body.encode(), "content_type": "application/json"}
        await connection.execute(keys.ANSWER, stored | {"id": claimed[0]})
        return status, answer_body.encode()

    async def webhook(self, connection: psycopg.AsyncConnection[Any], scope: Scope, body: bytes) -> tuple[int, bytes]:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        now = datetime.now(UTC)
        signatures.verify(ProviderName.paystack, body=body, headers=headers, settings=self.settings, now=now)
        event, problem = webhooks.read_event(ProviderName.paystack, body, now=now)
        assert problem is None, problem
        job = jobs_app.to_defer(webhooks.PROCESS_EVENT_TASK, event_id=event.id)
        parameters = events.stored_values(event) | job
        stored = await (await connection.execute(events.INSERT_IF_NEW_THEN_DEFER, parameters)).fetchone()
        return 200, json.dumps({"id": event.id, "duplicate": stored is None}).encode()


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def create() -> Floor:
    return Floor()


def floor_server(env: dict[str, str], logs: Path, *, processes: int) -> http_api.Server:
    bench = str(Path(__file__).resolve().parent)
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "http_floor:create",
        "--host", "127.0.0.1", "--port", env["SIKA_PORT"], "--workers", str(processes),
        "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
    ]  # fmt: skip
    floor_env = env | {"PYTHONPATH": os.pathsep.join(filter(None, (bench, env.get("PYTHONPATH"))))}
    return http_api.Server(f"floor, uvicorn --workers {processes}", command, floor_env, logs / "floor.log")


def phases(
    target: http_api.Target,
    url: str,
    fixtures: http_api.Fixtures,
    charges: http_api.Charges,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Each workload at each connection count, each after the in-process figure."""
    http_api.run_wrk(
        target, mode="transfers", lines=http_api.lines_for("transfers", fixtures, charges, 1), connections=16, seconds=1
    )
    results: dict[str, Any] = {mode: {} for mode in WORKLOADS}
    for connections in args.connection_counts:
        for mode in WORKLOADS:
            print(f"{target.api.name}: {mode}, {connections} connections", file=sys.stderr)
            reference = http_api.in_process(url, fixtures.accounts, connections=connections, seconds=args.seconds)
            lines = http_api.lines_for(mode, fixtures, charges, args.seconds)
            result = http_api.measure(
                target,
                mode=mode,
                lines=lines,
                connections=connections,
                seconds=args.seconds,
                in_process_tps=reference["tps"],
            )
            if result["non_2xx"] or result["socket_errors"]:
                raise SystemExit(f"{target.api.name}, {mode} at {connections}: not every answer was a 2xx: {result}")
            results[mode][str(connections)] = {"in_process_tps": reference["tps"], **result}
    return results


def run(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    logs = work_dir / "logs"
    logs.mkdir()
    script = work_dir / "bench.lua"
    script.write_text(http_api.WRK_SCRIPT)
    data_dir = work_dir / "pgdata"
    embedded, url = http_api.start_database(data_dir)
    try:
        key = asyncio.run(http_api.create_admin_key(url))
        api_port = http_api.free_port()
        env = http_api.server_env(url, api_port=api_port, sandbox_port=http_api.free_port())
        base = f"http://127.0.0.1:{api_port}"
        postmaster = http_api.postmaster_pid(data_dir)
        charges = http_api.Charges(first=1)
        fixture_sizes = argparse.Namespace(accounts=args.accounts, wallets=1, collections=args.collections)
        # Collections need the sandbox, which only `sika run` serves.
        setup_server = http_api.sika_run(env, logs, worker_concurrency=1)
        with http_api.running(setup_server, health_url=f"{base}/health") as server:
            print("setup: accounts and collections over the API", file=sys.stderr)
            fixtures = asyncio.run(http_api.make_fixtures(base, key, fixture_sizes))
            http_api.wait_first_webhooks(url, fixtures.collections, check=server.check_alive)
            charges.take(len(fixtures.collections))
        report: dict[str, Any] = {}
        servers = {
            "sika": http_api.uvicorn_api(env, logs, processes=args.api_processes),
            "floor": floor_server(env, logs, processes=args.api_processes),
        }
        for name, server in servers.items():
            with http_api.running(server, health_url=f"{base}/health"):
                target = http_api.Target(base, key, server, postmaster, work_dir, script)
                report[name] = phases(target, url, fixtures, charges, args)
        for mode in WORKLOADS:
            for connections, result in report["sika"][mode].items():
                floor_rate = report["floor"][mode][connections]["requests_per_second"]
                result["share_of_floor"] = round(result["requests_per_second"] / floor_rate, 3)
        return {
            "api_processes": args.api_processes,
            "results": report,
            "invariants": asyncio.run(ledger.check_invariants(url)),
            "server": ledger.server_settings(url),
        }
    finally:
        embedded.stop()


def parse_args() -> argparse.Namespace:
    return http_api.parsed(http_api.http_parser(__doc__, seconds=5.0, collections=8))


def main() -> None:
    args = parse_args()
    measured = http_api.run_in_work_dir("http_floor", run, args)
    report = {
        **http_api.report_head(args.seconds),
        "load_generator": "wrk -t1 (one thread), bench/http_api.py's Lua script",
        "in_process": "bench/ledger.py measure_sika, uniform, same accounts, one process, callers = connections",
        **measured,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
