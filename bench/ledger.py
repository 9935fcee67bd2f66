"""Ledger write throughput against pgbench, on one embedded PostgreSQL.

    .venv/bin/python bench/ledger.py [--seconds 10] [--rounds 2] [--clients 16,64] [--processes 1]

Starts its own PostgreSQL (pgserver, server defaults: fsync and
synchronous_commit on), migrates a database, then measures in one run:

* Sika: transfers per second through ``ledger.service.submit_transfer``
  (the grouped write path), in-process, with N concurrent callers, for
  (a) ``uniform``: random transfers among 10,000 overdraft-protected,
  funded accounts, and (b) ``hot``: every transfer debits one of them and
  credits one single account;
* pgbench on the same server: the built-in ``tpcb-like`` for (a), and for
  (b) a script that updates one account row and inserts a history row per
  transaction;

at each client count, and prints JSON with every figure and the ratios
Sika / pgbench. A benchmark, not a test: it asserts nothing but that the
ledger's invariants hold at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from sika.core import clock, db, invariants, migrate
from sika.core.context import Actor
from sika.ledger import batcher
from sika.ledger import service as ledger_service

ACCOUNTS = 10_000
FUNDING_MINOR = 10**12
"""Each account's opening balance: far more than a run can spend."""
ACTOR = Actor(id="bench", scopes=frozenset({"admin"}))
PROCESS_GRACE_SECONDS = 120.0
"""Beyond its phase, how long a measuring process may take to start and report."""
PGBENCH_HOT_SCRIPT = """\
\\set aid random(1, 10000)
\\set delta random(1, 1000)
BEGIN;
UPDATE bench_hot_accounts SET balance = balance + :delta WHERE id = 1;
INSERT INTO bench_hot_history (aid, delta, mtime) VALUES (:aid, :delta, CURRENT_TIMESTAMP);
END;
"""


def pg_bin(name: str) -> str:
    import pgserver

    path = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    if not path.exists():
        raise SystemExit(f"{name} not found at {path}")
    return str(path)


def socket_params(url: str) -> dict[str, str]:
    """host (socket dir), user and database from a pgserver URL."""
    host = re.search(r"host=([^&]+)", url)
    user = re.match(r"postgresql://([^:@]+)", url)
    database = re.search(r"/([^/?]+)\?", url)
    assert host, url
    assert user, url
    assert database, url
    return {"host": host.group(1), "user": user.group(1), "dbname": database.group(1)}


def pgbench_command(url: str, args: list[str]) -> list[str]:
    params = socket_params(url)
    return [pg_bin("pgbench"), "-h", params["host"], "-U", params["user"], *args, params["dbname"]]


def init_pgbench(url: str, scale: int) -> None:
    subprocess.run(pgbench_command(url, ["-i", "-q", "-s", str(scale)]), capture_output=True, check=True)


def run_pgbench(url: str, args: list[str], *, script: Path | None = None) -> dict[str, Any]:
    if script is not None:
        args = [*args, "-f", str(script)]
    result = subprocess.run(pgbench_command(url, args), capture_output=True, text=True, check=True)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", result.stdout)
    done = re.search(r"number of transactions actually processed: (\d+)", result.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    assert tps, result.stdout
    assert done, result.stdout
    return {
        "tps": round(float(tps.group(1)), 1),
        "transactions": int(done.group(1)),
        "failed": int(failed.group(1)) if failed else 0,
    }


async def setup_accounts(url: str) -> tuple[list[str], str, str]:
    """10,000 funded, overdraft-protected accounts, a world account and a hot one."""
    engine = db.make_engine(url, pool_size=2, max_overflow=0)
    sessions = db.make_sessionmaker(engine)
    now = clock.now()
    async with db.transaction(sessions) as session:
        world = await ledger_service.create_account(
            session, currency="XOF", kind="bench.world", platform_id=None, now=now, actor=ACTOR
        )
        hot = await ledger_service.create_account(
            session, currency="XOF", kind="bench.hot", platform_id=None, now=now, actor=ACTOR
        )
        world_id, hot_id = world.id, hot.id
    # Creating 10,000 accounts one service call at a time would time the ORM,
    # not the ledger: insert them in bulk (they start at zero), then fund them
    # through the ledger like any other money.
    ids = [f"acct_bench_{i:05d}" for i in range(ACCOUNTS)]
    async with engine.begin() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        async with driver.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO ledger_accounts (id, currency, kind, debits_must_not_exceed_credits,"
                " created_at, updated_at) VALUES (%s, 'XOF', 'bench.wallet', true, now(), now())",
                [(account_id,) for account_id in ids],
            )
    await engine.dispose()
    await run_callers(
        url,
        callers=64,
        seconds=None,
        pick=iter([(world_id, account_id) for account_id in ids]),
        amount=FUNDING_MINOR,
    )
    return ids, world_id, hot_id


async def run_callers(
    url: str,
    *,
    callers: int,
    seconds: float | None,
    pick: Any,
    amount: int | None = None,
) -> dict[str, Any]:
    """``callers`` tasks submit transfers back to back through the ledger
    service, for ``seconds`` (or until ``pick`` runs out)."""
    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    accepted = 0
    refused = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds if seconds is not None else None

    async def caller() -> None:
        nonlocal accepted, refused
        while deadline is None or time.perf_counter() < deadline:
            try:
                debit, credit = next(pick)
            except StopIteration:
                return
            started = time.perf_counter()
            try:
                await ledger_service.submit_transfer(
                    engine,
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount_minor=amount if amount is not None else random.randint(1, 1000),
                    currency="XOF",
                    code="bench",
                    now=clock.now(),
                    actor=ACTOR,
                )
                accepted += 1
            except ledger_service.InsufficientFunds:
                refused += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(callers):
                group.create_task(caller())
        elapsed = time.perf_counter() - started
    finally:
        # The batcher's connections and the engine's, even when a caller failed.
        await batcher.close_all()
        await engine.dispose()
    latencies.sort()
    return {
        "accepted": accepted,
        "refused": refused,
        "elapsed_seconds": round(elapsed, 2),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2) if latencies else None,
    }


class _Uniform:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def __iter__(self) -> _Uniform:
        return self

    def __next__(self) -> tuple[str, str]:
        debit, credit = random.sample(self.ids, 2)
        return debit, credit


class _Hot:
    def __init__(self, ids: list[str], hot_id: str) -> None:
        self.ids = ids
        self.hot_id = hot_id

    def __iter__(self) -> _Hot:
        return self

    def __next__(self) -> tuple[str, str]:
        return random.choice(self.ids), self.hot_id


def _process_main(
    url: str, workload: str, ids: list[str], hot_id: str, callers: int, seconds: float, queue: Any
) -> None:
    pick: Any = _Uniform(ids) if workload == "uniform" else _Hot(ids, hot_id)
    queue.put(asyncio.run(run_callers(url, callers=callers, seconds=seconds, pick=pick)))


def measure_sika(
    url: str, workload: str, ids: list[str], hot_id: str, *, clients: int, seconds: float, processes: int
) -> dict[str, Any]:
    """``clients`` callers split over ``processes`` processes, each with its own batcher."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    workers = [
        context.Process(target=_process_main, args=(url, workload, ids, hot_id, share, seconds, queue))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    try:
        # A process that died without reporting must not leave the bench waiting forever.
        results = [queue.get(timeout=seconds + PROCESS_GRACE_SECONDS) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=PROCESS_GRACE_SECONDS)
            if worker.is_alive():
                worker.kill()
                worker.join()
    accepted = sum(r["accepted"] for r in results)
    elapsed = max(r["elapsed_seconds"] for r in results)
    return {
        "tps": round(accepted / elapsed, 1),
        "transfers": accepted,
        "refused": sum(r["refused"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
    }


async def check_invariants(url: str) -> dict[str, Any]:
    engine = db.make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with db.transaction(db.make_sessionmaker(engine)) as session:
            report = await invariants.check_all(session)
    finally:
        await engine.dispose()
    return {"ok": report.ok, "breaches": [b.describe() for b in report.breaches]}


def server_settings(url: str) -> dict[str, str]:
    with psycopg.connect(db.libpq_url(url)) as connection:
        shown: dict[str, str] = {}
        for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections"):
            row = connection.execute(f"SHOW {name}").fetchone()
            assert row is not None  # SHOW answers one row, or raises
            shown[name] = str(row[0])
        return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of each measured phase.")
    parser.add_argument("--clients", default="16,64", help="Client counts, comma-separated.")
    parser.add_argument("--processes", type=int, default=1, help="Processes sharing Sika's callers.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds of every phase (best one compared).")
    parser.add_argument("--pgbench-scale", type=int, default=16, help="pgbench -i scale for tpcb-like.")
    parser.add_argument("--pgbench-threads", type=int, default=2, help="pgbench -j.")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]

    data_dir = Path(tempfile.mkdtemp(prefix="sika-bench-pg-"))
    embedded = db.EmbeddedPostgres(data_dir=data_dir)
    try:
        server_url = embedded.start()
        with psycopg.connect(db.libpq_url(server_url), autocommit=True) as connection:
            connection.execute("CREATE DATABASE sika_bench")
            connection.execute("CREATE DATABASE pgbench_bench")
        url = server_url.replace("/postgres?", "/sika_bench?")
        pgbench_url = server_url.replace("/postgres?", "/pgbench_bench?")
        migrate.upgrade(url)
        setup_started = time.perf_counter()
        ids, _world_id, hot_id = asyncio.run(setup_accounts(url))
        print(f"setup: {ACCOUNTS} accounts funded in {time.perf_counter() - setup_started:.1f} s", file=sys.stderr)

        init_pgbench(pgbench_url, args.pgbench_scale)
        with psycopg.connect(db.libpq_url(pgbench_url), autocommit=True) as connection:
            connection.execute(
                "CREATE TABLE bench_hot_accounts (id integer PRIMARY KEY, balance bigint NOT NULL);"
                "INSERT INTO bench_hot_accounts VALUES (1, 0);"
                "CREATE TABLE bench_hot_history (id bigserial PRIMARY KEY, aid integer NOT NULL,"
                " delta integer NOT NULL, mtime timestamptz NOT NULL)"
            )
            connection.execute("VACUUM ANALYZE")
        hot_script = data_dir.parent / f"{data_dir.name}-hot.sql"
        hot_script.write_text(PGBENCH_HOT_SCRIPT)

        # The machine is shared: each phase runs in several rounds, Sika and
        # pgbench interleaved, so a neighbour's burst hits both alike; the
        # best round of each is compared, and every round is reported.
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for round_number in range(1, args.rounds + 1):
            for clients in client_counts:
                threads = str(min(args.pgbench_threads, clients))
                common = ["-c", str(clients), "-j", threads, "-T", str(int(args.seconds)), "-n"]
                for workload in ("uniform", "hot"):
                    key = f"{workload}_{clients}"
                    phase = samples.setdefault(key, {"sika": [], "pgbench": []})
                    print(f"round {round_number}: sika {key}", file=sys.stderr)
                    phase["sika"].append(
                        measure_sika(
                            url,
                            workload,
                            ids,
                            hot_id,
                            clients=clients,
                            seconds=args.seconds,
                            processes=args.processes,
                        )
                    )
                    print(f"round {round_number}: pgbench {key}", file=sys.stderr)
                    if workload == "uniform":
                        phase["pgbench"].append(run_pgbench(pgbench_url, [*common, "-b", "tpcb-like"]))
                    else:
                        phase["pgbench"].append(run_pgbench(pgbench_url, common, script=hot_script))
        results: dict[str, Any] = {}
        for key, phase in samples.items():
            sika_best = max(phase["sika"], key=lambda r: r["tps"])
            pgbench_best = max(phase["pgbench"], key=lambda r: r["tps"])
            results[key] = {
                "sika_transfers_per_second": sika_best["tps"],
                "pgbench_tps": pgbench_best["tps"],
                "ratio": round(sika_best["tps"] / pgbench_best["tps"], 2),
                "sika_rounds_tps": [r["tps"] for r in phase["sika"]],
                "pgbench_rounds_tps": [r["tps"] for r in phase["pgbench"]],
                "ratio_of_medians": round(
                    statistics.median(r["tps"] for r in phase["sika"])
                    / statistics.median(r["tps"] for r in phase["pgbench"]),
                    2,
                ),
                "sika_best": sika_best,
                "pgbench_best": pgbench_best,
            }
        hot_script.unlink()
        report = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "server": server_settings(url),
            "phase_seconds": args.seconds,
            "sika_processes": args.processes,
            "rounds": args.rounds,
            "pgbench": {
                "uniform": f"built-in tpcb-like, scale {args.pgbench_scale}",
                "hot": "one UPDATE of a single account row + one INSERT into a history table",
                "threads": args.pgbench_threads,
                "protocol": "simple",
            },
            "sika_workloads": {
                "uniform": f"random debit and credit among {ACCOUNTS} overdraft-protected accounts",
                "hot": f"random debit among {ACCOUNTS} accounts, every credit to one account",
            },
            "results": results,
            "target_met": all(r["ratio"] >= 1.5 for r in results.values()),
            "invariants": asyncio.run(check_invariants(url)),
        }
        print(json.dumps(report, indent=2))
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
