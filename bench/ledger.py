"""Ledger write throughput, Sika against a like-for-like ledger, on one embedded PostgreSQL.

    .venv/bin/python bench/ledger.py [--seconds 10] [--rounds 2] [--clients 16,64] [--processes 1]

Starts its own PostgreSQL (pgserver, server defaults: fsync and
synchronous_commit on), migrates a database, then measures in one run, at
each client count and for two workloads, (a) ``uniform``: random transfers
among 10,000 overdraft-protected, funded accounts, and (b) ``hot``: every
transfer debits one of them and credits one single account:

* ``like_for_like``: pgbench running, one per transaction, a transfer's real
  work in pgledger's shape (one call of a PL/pgSQL function that locks the
  two account rows in id order, checks currency and funds, updates both,
  inserts the transfer and its two entries with the balances before and
  after), on its own copy of the accounts;
* ``sika_unbatched``: pgbench calling ``ledger_apply_transfers`` for one
  transfer per transaction, as the grouped path calls it (fresh ids), so the
  same client drives both ledgers;
* ``sika_grouped``: transfers per second through
  ``ledger.service.submit_transfer`` (the grouped write path), in-process,
  with N concurrent callers;

and prints JSON with every figure and the ratios of Sika (unbatched, grouped)
to the like-for-like ledger. A benchmark, not a test: it asserts nothing but
that the ledger's invariants hold at the end.
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
LIKE_FOR_LIKE_SETUP = """
CREATE TABLE bench_accounts (
    id text PRIMARY KEY, currency text NOT NULL, balance bigint NOT NULL, version bigint NOT NULL DEFAULT 0,
    allow_negative_balance boolean NOT NULL, updated_at timestamptz NOT NULL
) WITH (fillfactor = 50);
CREATE TABLE bench_transfers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, from_account_id text NOT NULL, to_account_id text NOT NULL,
    amount bigint NOT NULL, currency text NOT NULL, created_at timestamptz NOT NULL,
    CHECK (amount > 0 AND from_account_id <> to_account_id)
);
CREATE TABLE bench_entries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id text NOT NULL, transfer_id bigint NOT NULL,
    amount bigint NOT NULL, account_previous_balance bigint NOT NULL, account_current_balance bigint NOT NULL,
    account_version bigint NOT NULL, created_at timestamptz NOT NULL
);
CREATE INDEX ON bench_entries (account_id, id);
CREATE FUNCTION bench_transfer(p_from text, p_to text, p_amount bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    f bench_accounts%ROWTYPE;
    t bench_accounts%ROWTYPE;
    r bench_accounts%ROWTYPE;
    transfer_id bigint;
BEGIN
    FOR r IN SELECT * FROM bench_accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE LOOP
        IF r.id = p_from THEN f := r; ELSE t := r; END IF;
    END LOOP;
    IF f.id IS NULL OR t.id IS NULL THEN RAISE EXCEPTION 'no such account'; END IF;
    IF f.currency <> t.currency THEN RAISE EXCEPTION 'currency mismatch'; END IF;
    IF NOT f.allow_negative_balance AND f.balance < p_amount THEN RAISE EXCEPTION 'insufficient funds'; END IF;
    UPDATE bench_accounts SET balance = balance - p_amount, version = version + 1, updated_at = now()
     WHERE id = p_from;
    UPDATE bench_accounts SET balance = balance + p_amount, version = version + 1, updated_at = now()
     WHERE id = p_to;
    INSERT INTO bench_transfers (from_account_id, to_account_id, amount, currency, created_at)
    VALUES (p_from, p_to, p_amount, f.currency, now()) RETURNING id INTO transfer_id;
    INSERT INTO bench_entries (account_id, transfer_id, amount, account_previous_balance, account_current_balance,
                               account_version, created_at)
    VALUES (p_from, transfer_id, -p_amount, f.balance, f.balance - p_amount, f.version + 1, now()),
           (p_to, transfer_id, p_amount, t.balance, t.balance + p_amount, t.version + 1, now());
    RETURN transfer_id;
END $$;
"""
"""pgledger's per-transfer work (pgledger_create_transfer), on accounts with text ids like Sika's."""
PICK_UNIFORM = """\\set a random(0, 9999)
\\set b (:a + random(1, 9999)) % 10000
\\set amount random(1, 1000)
"""
PICK_HOT = """\\set a random(0, 9999)
\\set b 10000
\\set amount random(1, 1000)
"""
"""Account 10000 is the hot one; the others are the 10,000 funded accounts."""
ACCOUNT = "'acct_bench_' || lpad(:{}::text, 5, '0')"
LIKE_FOR_LIKE_CALL = f"SELECT bench_transfer({ACCOUNT.format('a')}, {ACCOUNT.format('b')}, :amount::bigint);\n"
SIKA_UNBATCHED_CALL = (
    "SELECT r_error FROM ledger_apply_transfers(ARRAY['xfr_' || md5(random()::text)], ARRAY['posted'],"
    f" ARRAY[{ACCOUNT.format('a')}], ARRAY[{ACCOUNT.format('b')}], ARRAY[:amount::bigint],"
    " ARRAY['XOF'], ARRAY['bench'], NULL, NULL, NULL, NULL, ARRAY['bench'], NULL, now(), false, false, 0, NULL);\n"
)
"""One transfer per call, with the arguments the grouped path sends for a fresh transfer."""


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


def setup_like_for_like(url: str) -> None:
    """The like-for-like ledger's tables and function, and the same accounts funded alike."""
    with psycopg.connect(db.libpq_url(url), autocommit=True) as connection:
        connection.execute(LIKE_FOR_LIKE_SETUP)
        connection.execute(
            "INSERT INTO bench_accounts (id, currency, balance, allow_negative_balance, updated_at)"
            " SELECT 'acct_bench_' || lpad(n::text, 5, '0'), 'XOF', CASE WHEN n < %s THEN %s ELSE 0 END, false, now()"
            " FROM generate_series(0, %s) n",
            (ACCOUNTS, FUNDING_MINOR, ACCOUNTS),
        )
        connection.execute("VACUUM ANALYZE")


def run_pgbench(url: str, args: list[str], *, script: Path | None = None) -> dict[str, Any]:
    if script is not None:
        args = [*args, "-f", str(script)]
    result = subprocess.run(pgbench_command(url, args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"pgbench failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
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
        world_id = world.id
    # Creating 10,000 accounts one service call at a time would time the ORM,
    # not the ledger: insert them in bulk (they start at zero), then fund them
    # through the ledger like any other money. The hot one is numbered after
    # them, as the pgbench scripts name it.
    ids = [f"acct_bench_{i:05d}" for i in range(ACCOUNTS)]
    hot_id = f"acct_bench_{ACCOUNTS:05d}"
    async with engine.begin() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        async with driver.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO ledger_accounts (id, currency, kind, debits_must_not_exceed_credits,"
                " created_at, updated_at) VALUES (%s, 'XOF', 'bench.wallet', true, now(), now())",
                [(account_id,) for account_id in [*ids, hot_id]],
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


LEDGERS = ("sika_grouped", "sika_unbatched", "like_for_like")


def write_scripts(folder: Path) -> dict[tuple[str, str], Path]:
    """The pgbench scripts, per ledger (``sika``, ``like``) and workload, in ``folder``."""
    folder.mkdir()
    scripts: dict[tuple[str, str], Path] = {}
    for workload, pick in (("uniform", PICK_UNIFORM), ("hot", PICK_HOT)):
        for ledger, call in (("sika", SIKA_UNBATCHED_CALL), ("like", LIKE_FOR_LIKE_CALL)):
            path = folder / f"{ledger}-{workload}.sql"
            path.write_text(pick + call)
            scripts[(ledger, workload)] = path
    return scripts


def compare(phase: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Best rounds and medians of each ledger, and Sika's ratios to the like-for-like one."""
    best = {name: max(phase[name], key=lambda r: r["tps"]) for name in LEDGERS}
    medians = {name: statistics.median(r["tps"] for r in phase[name]) for name in LEDGERS}
    reference = best["like_for_like"]["tps"]
    return {
        **{f"{name}_tps": best[name]["tps"] for name in LEDGERS},
        "ratio_unbatched": round(best["sika_unbatched"]["tps"] / reference, 2),
        "ratio_grouped": round(best["sika_grouped"]["tps"] / reference, 2),
        "ratio_of_medians_unbatched": round(medians["sika_unbatched"] / medians["like_for_like"], 2),
        "ratio_of_medians_grouped": round(medians["sika_grouped"] / medians["like_for_like"], 2),
        "rounds_tps": {name: [r["tps"] for r in phase[name]] for name in LEDGERS},
        "best": best,
    }


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
    parser.add_argument("--pgbench-threads", type=int, default=2, help="pgbench -j.")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]

    data_dir = Path(tempfile.mkdtemp(prefix="sika-bench-pg-"))
    scripts_dir = data_dir.with_name(f"{data_dir.name}-scripts")
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

        setup_like_for_like(pgbench_url)
        scripts = write_scripts(scripts_dir)

        # The machine is shared: each phase runs in several rounds, the three
        # interleaved, so a neighbour's burst hits them alike; the best round
        # of each is compared, and every round is reported.
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for round_number in range(1, args.rounds + 1):
            for clients in client_counts:
                threads = str(min(args.pgbench_threads, clients))
                common = ["-c", str(clients), "-j", threads, "-T", str(int(args.seconds)), "-n", "-M", "prepared"]
                for workload in ("uniform", "hot"):
                    key = f"{workload}_{clients}"
                    phase = samples.setdefault(key, {name: [] for name in LEDGERS})
                    print(f"round {round_number}: {key}", file=sys.stderr)
                    phase["sika_grouped"].append(
                        measure_sika(
                            url, workload, ids, hot_id, clients=clients, seconds=args.seconds, processes=args.processes
                        )
                    )
                    phase["sika_unbatched"].append(run_pgbench(url, common, script=scripts[("sika", workload)]))
                    phase["like_for_like"].append(run_pgbench(pgbench_url, common, script=scripts[("like", workload)]))
        results = {key: compare(phase) for key, phase in samples.items()}
        report = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "server": server_settings(url),
            "phase_seconds": args.seconds,
            "sika_processes": args.processes,
            "rounds": args.rounds,
            "ledgers": {
                "like_for_like": "pgbench -M prepared, one bench_transfer() call per transaction (pgledger's shape)",
                "sika_unbatched": "pgbench -M prepared, one ledger_apply_transfers call (one transfer) per transaction",
                "sika_grouped": "ledger.service.submit_transfer in-process (the grouped path), callers = clients",
                "pgbench_threads": args.pgbench_threads,
            },
            "workloads": {
                "uniform": f"random debit and credit among {ACCOUNTS} overdraft-protected accounts",
                "hot": f"random debit among {ACCOUNTS} accounts, every credit to one account",
            },
            "results": results,
            "goals": {
                "sika_unbatched_at_least_like_for_like": all(r["ratio_unbatched"] >= 1 for r in results.values()),
                "sika_grouped_at_least_3x_like_for_like_at_64": all(
                    r["ratio_grouped"] >= 3 for key, r in results.items() if key.endswith("_64")
                ),
            },
            "invariants": asyncio.run(check_invariants(url)),
        }
        print(json.dumps(report, indent=2))
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(scripts_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
