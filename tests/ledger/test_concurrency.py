"""Real parallelism against one database: several processes, many connections."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.core import clock, db, errors, invariants
from sika.ledger import repository as ledger_repository
from sika.ledger import service as ledger_service
from tests.conftest import TEST_ACTOR
from tests.ledger.conftest import Books as Books_
from tests.support.ledger import backend_pid, balance, snapshot, until_waiting_for_a_lock
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]

PROCESSES = 4
CONNECTIONS_PER_PROCESS = 16
ACCOUNTS = 20
RUN_SECONDS = 10.0
MIN_OK_PER_CONNECTION = 2
"""Each connection goes on past RUN_SECONDS until it has moved money this many
times, so that every connection took part however slow the machine."""
RUN_LIMIT_SECONDS = 120.0
"""A connection that still has not moved money by then gives up (and the test fails)."""
RESULT_TIMEOUT_SECONDS = 180.0
"""Per process: starting (imports) on a loaded machine, the run, and its report."""
EXIT_TIMEOUT_SECONDS = 30.0
OPENING_BALANCE = 10_000


async def funded_wallets(sessions: Sessions, *, count: int, amount_minor: int) -> tuple[str, list[str]]:
    """A world account and ``count`` overdraft-protected accounts it funded with ``amount_minor`` each."""
    now = clock.now()
    async with db.transaction(sessions) as session:
        world = await ledger_service.create_account(
            session, currency="XOF", kind="world", platform_id=None, now=now, actor=TEST_ACTOR
        )
        wallets = []
        for _ in range(count):
            wallet = await ledger_service.create_account(
                session,
                currency="XOF",
                kind="wallet",
                debits_must_not_exceed_credits=True,
                platform_id=None,
                now=now,
                actor=TEST_ACTOR,
            )
            await ledger_service.create_transfer(
                session,
                debit_account_id=world.id,
                credit_account_id=wallet.id,
                amount_minor=amount_minor,
                currency="XOF",
                code="fund",
                now=now,
                actor=TEST_ACTOR,
            )
            wallets.append(wallet.id)
    return world.id, wallets


async def _random_operation(session: AsyncSession, rng: random.Random, a: str, b: str, amount: int) -> None:
    """A single transfer, a two-leg journal entry whose legs lock the same
    accounts in opposite orders, or a pending transfer posted or voided."""
    choice = rng.random()
    if choice < 0.5:
        await ledger_service.create_transfer(
            session,
            debit_account_id=a,
            credit_account_id=b,
            amount_minor=amount,
            currency="XOF",
            code="stress",
            now=clock.now(),
            actor=TEST_ACTOR,
        )
    elif choice < 0.75:
        legs = [
            ledger_service.Leg(
                debit_account_id=a,
                credit_account_id=b,
                amount_minor=amount,
                currency="XOF",
                code="stress",
            ),
            ledger_service.Leg(
                debit_account_id=b,
                credit_account_id=a,
                amount_minor=amount // 2 + 1,
                currency="XOF",
                code="stress",
            ),
        ]
        await ledger_service.create_journal_entry(session, legs=legs, now=clock.now(), actor=TEST_ACTOR)
    else:
        hold = await ledger_service.create_transfer(
            session,
            debit_account_id=a,
            credit_account_id=b,
            amount_minor=amount,
            currency="XOF",
            code="stress",
            pending=True,
            now=clock.now(),
            actor=TEST_ACTOR,
        )
        if rng.random() < 0.5:
            await ledger_service.post_pending(
                session,
                pending_id=hold.id,
                amount_minor=rng.randint(1, amount),
                now=clock.now(),
                actor=TEST_ACTOR,
            )
        else:
            await ledger_service.void_pending(session, pending_id=hold.id, now=clock.now(), actor=TEST_ACTOR)


async def _worker_loop(database_url: str, account_ids: list[str], seconds: float) -> dict[str, int]:
    """One process: 16 connections, each making random operations back to back."""
    engine = db.make_engine(database_url, pool_size=CONNECTIONS_PER_PROCESS, max_overflow=0)
    sessions = db.make_sessionmaker(engine)
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    limit = time.monotonic() + RUN_LIMIT_SECONDS

    async def connection_loop(seed: int) -> None:
        rng = random.Random(seed)
        moved = 0
        while time.monotonic() < deadline or (moved < MIN_OK_PER_CONNECTION and time.monotonic() < limit):
            a, b = rng.sample(account_ids, 2)
            amount = rng.randint(1, 3000)
            try:
                async with db.transaction(sessions) as session:
                    await _random_operation(session, rng, a, b, amount)
                outcomes["ok"] += 1
                moved += 1
            except ledger_service.InsufficientFunds:
                outcomes["insufficient_funds"] += 1
            except errors.SikaError as exc:
                outcomes[f"unexpected:{exc.code}"] += 1
            except Exception as exc:  # anything else reaching a caller (a deadlock) fails the test
                outcomes[f"error:{type(exc).__name__}"] += 1

    try:
        await asyncio.gather(*(connection_loop(random.randrange(2**32)) for _ in range(CONNECTIONS_PER_PROCESS)))
    finally:
        await engine.dispose()
    return dict(outcomes)


def _process_main(database_url: str, account_ids: list[str], seconds: float, queue: Any) -> None:
    queue.put(asyncio.run(_worker_loop(database_url, account_ids, seconds)))


@pytest.mark.slow
async def test_64_connections_in_4_processes_keep_the_ledger_whole(database_url: str, sessions: Sessions) -> None:
    _, account_ids = await funded_wallets(sessions, count=ACCOUNTS, amount_minor=OPENING_BALANCE)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_process_main, args=(database_url, account_ids, RUN_SECONDS, queue))
        for _ in range(PROCESSES)
    ]
    started = time.monotonic()
    try:
        for worker in workers:
            worker.start()
        results = await asyncio.to_thread(lambda: [queue.get(timeout=RESULT_TIMEOUT_SECONDS) for _ in workers])
    finally:
        # Even when the test fails, no process goes on writing into the next tests.
        for worker in workers:
            if worker.pid is None:
                continue
            await asyncio.to_thread(worker.join, EXIT_TIMEOUT_SECONDS)
            if worker.is_alive():
                worker.kill()
                await asyncio.to_thread(worker.join)
    elapsed = time.monotonic() - started
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    outcomes: Counter[str] = Counter()
    for result in results:
        outcomes.update(result)
    assert elapsed >= RUN_SECONDS
    assert set(outcomes) <= {"ok", "insufficient_funds"}, outcomes
    # Not a rate: every one of the 64 connections moved money at least twice, by construction of the run.
    assert outcomes["ok"] >= PROCESSES * CONNECTIONS_PER_PROCESS * MIN_OK_PER_CONNECTION, outcomes

    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [b.describe() for b in report.breaches]
    total = 0
    for account_id in account_ids:
        account_balance = await balance(sessions, account_id)
        assert account_balance.available_minor >= 0
        assert account_balance.debits_pending == 0
        total += account_balance.posted_minor
    assert total == ACCOUNTS * OPENING_BALANCE
    async with db.transaction(sessions) as session:
        count = await session.scalar(sa.text("SELECT count(*) FROM ledger_transfers WHERE code = 'stress'"))
    assert count is not None
    assert count >= outcomes["ok"]


@pytest.mark.parametrize("way_in", ["in_transaction", "grouped"])
async def test_100_concurrent_holds_against_exactly_10_all_but_10_refused(
    sessions: Sessions, engine: AsyncEngine, way_in: str
) -> None:
    """On both ways into the ledger: a transaction of its own per hold, or the grouped path."""
    world, (wallet,) = await funded_wallets(sessions, count=1, amount_minor=10 * 250)
    hold: dict[str, Any] = {
        "debit_account_id": wallet,
        "credit_account_id": world,
        "amount_minor": 250,
        "currency": "XOF",
        "code": "hold",
        "pending": True,
        "actor": TEST_ACTOR,
    }

    async def place() -> str:
        try:
            if way_in == "grouped":
                await ledger_service.submit_transfer(engine, now=clock.now(), **hold)
            else:
                async with db.transaction(sessions) as session:
                    await ledger_service.create_transfer(session, now=clock.now(), **hold)
        except ledger_service.InsufficientFunds:
            return "insufficient_funds"
        return "ok"

    outcomes = Counter(await all_of(*(place() for _ in range(100))))
    assert outcomes == Counter({"ok": 10, "insufficient_funds": 90})
    wallet_balance = await balance(sessions, wallet)
    assert (wallet_balance.posted_minor, wallet_balance.debits_pending, wallet_balance.available_minor) == (
        2500,
        2500,
        0,
    )
    assert (await snapshot(sessions)).transfer_count == 1 + 10


async def test_a_deadlock_with_a_callers_own_lock_is_retried_not_surfaced(sessions: Sessions, books: Books_) -> None:
    """T1's transfer locks alice (new) and waits for bob, whom T2 locked
    earlier in its own transaction; T2 then wants alice. The deadlock victim
    (T1, the first to wait) rolls back only its lock step, letting T2 finish,
    and tries again: both transfers commit and nobody sees the deadlock."""
    first, second = sorted([books.alice, books.bob])
    t2_holds_second = asyncio.Event()
    t1_backend: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def t1() -> ledger_service.TransferRecord:
        await t2_holds_second.wait()
        async with db.transaction(sessions) as session:
            t1_backend.set_result(await backend_pid(session))
            return await ledger_service.create_transfer(
                session,
                debit_account_id=first,
                credit_account_id=second,
                amount_minor=1,
                currency="XOF",
                code="t1",
                now=clock.now(),
                actor=TEST_ACTOR,
            )

    async def t2() -> ledger_service.TransferRecord:
        async with db.transaction(sessions) as session:
            await ledger_repository.get_account_for_update(session, second)
            t2_holds_second.set()
            # Once T1 waits, it holds `first` and waits for `second`: T2's
            # transfer closes the cycle, well within deadlock_timeout (1 s),
            # so that T1, the first to wait, is the one to find it.
            await until_waiting_for_a_lock(sessions, await t1_backend)
            return await ledger_service.create_transfer(
                session,
                debit_account_id=books.world,
                credit_account_id=first,
                amount_minor=5,
                currency="XOF",
                code="t2",
                now=clock.now(),
                actor=TEST_ACTOR,
            )

    one, two = await all_of(t1(), t2())
    assert (one.code, two.code) == ("t1", "t2")
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok


async def test_a_post_at_the_deadline_does_not_deadlock_with_the_expiry_job(sessions: Sessions, books: Books_) -> None:
    """A post locks the accounts, then removes its pending transfer from the
    expiry list. The expiry job, run at that very moment, must take no lock
    before the accounts' (one global order, the money rules in docs/architecture.md): were it to
    hold the list's row while waiting for the accounts, the two would deadlock."""
    start = clock.now()
    async with db.transaction(sessions) as session:
        hold = await ledger_service.create_transfer(
            session,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount_minor=600,
            currency="XOF",
            code="hold",
            pending=True,
            timeout_seconds=30,
            now=start,
            actor=TEST_ACTOR,
        )
    deadline = start + timedelta(seconds=30)
    job_backend: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def expiry_job() -> int:
        async with db.transaction(sessions) as session:
            job_backend.set_result(await backend_pid(session))
            return await ledger_service.expire_pending(session, now=deadline, actor=TEST_ACTOR)

    async with asyncio.TaskGroup() as group, db.transaction(sessions) as poster:
        await ledger_service.lock_accounts(poster, account_ids=[books.alice, books.bob])
        job = group.create_task(expiry_job())
        await until_waiting_for_a_lock(sessions, await job_backend)
        posted = await ledger_service.post_pending(
            poster, pending_id=hold.id, amount_minor=200, now=deadline - timedelta(seconds=1), actor=TEST_ACTOR
        )
    assert job.result() == 0
    assert (posted.kind, posted.amount_minor) == ("post_pending", 200)
    alice = await balance(sessions, books.alice)
    assert (alice.posted_minor, alice.debits_pending) == (800, 0)
    assert (await snapshot(sessions)).timeout_count == 0
