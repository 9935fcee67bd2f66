"""A backlog of webhook events: a processing job takes on the events whose jobs are
due, each in a transaction of its own with its own outcome, its job finished in that
transaction; a failing event rolls back alone and is retried like any other."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from sika.core import clock, db
from sika.ledger import service as ledger_service
from sika.wallets.models import Wallet
from sika.webhooks import service as webhooks_service
from tests.conftest import TEST_ACTOR
from tests.support.factories import PartyWallet
from tests.support.payments import World, assert_ledger_clean, count, payer, run_jobs
from tests.support.reads import sika_check
from tests.support.workers import end_worker, start_worker, until
from tests.webhooks.test_intake import charge_success, post, signed
from tests.webhooks.test_processing import AMOUNT, collecting

EVENTS = "webhooks_inbound_events"
PROCESS_JOBS = "task_name = 'webhooks.process_event'"


async def deliver(world: World, reference: str, charge_id: int) -> None:
    payload = charge_success(reference, amount_wire=AMOUNT * 100, charge_id=charge_id)
    body, headers = signed("paystack", payload, world.settings)
    assert (await post(world.client, "paystack", body, headers)).status_code == 200


async def outcomes(world: World) -> list[tuple[str, str, int, str | None, bool]]:
    """(reference, status, attempts, outcome, has an error) of every event, in arrival order."""
    async with world.sessions() as session:
        rows = await session.execute(
            sa.text(f"SELECT reference, status, attempts, outcome, last_error FROM {EVENTS} ORDER BY seq")  # noqa: S608
        )
        return [(r.reference, r.status, r.attempts, r.outcome, r.last_error is not None) for r in rows]


async def started_jobs(world: World) -> int:
    """Processing jobs procrastinate's worker fetched and started itself."""
    return await count(
        world.sessions,
        "procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id",
        f"e.type = 'started' AND j.{PROCESS_JOBS}",
    )


async def close_wallet_account(world: World, who: PartyWallet) -> None:
    """The wallet's account closed: a credit to it is refused, so processing its collection fails."""
    async with db.transaction(world.sessions) as session:
        wallet = await session.get(Wallet, who.wallet_id)
        assert wallet is not None
        await ledger_service.close_account(session, account_id=wallet.account_id, now=clock.now(), actor=TEST_ACTOR)


async def test_one_job_takes_the_due_events_each_with_its_own_outcome(world: World, kofi: PartyWallet) -> None:
    ama = await payer(world.client, world.platform)
    paid, doomed = await collecting(world, kofi), await collecting(world, ama)
    await close_wallet_account(world, ama)
    await deliver(world, paid, 1)
    await deliver(world, doomed, 2)
    await deliver(world, paid, 3)
    await deliver(world, "col_nobody", 4)
    transfers = await count(world.sessions, "ledger_transfers")

    # Retries far off, so that the failed event's next attempt cannot fall due during the run.
    await run_jobs(world.database_url, world.settings.model_copy(update={"WEBHOOK_RETRY_DELAYS_SECONDS": [600]}))

    assert await outcomes(world) == [
        (paid, "processed", 0, "changed", False),
        (doomed, "received", 1, None, True),
        (paid, "processed", 0, "unchanged", False),
        ("col_nobody", "unmatched", 0, None, False),
    ]
    # procrastinate's worker started one job; that job took the three others, and finished each.
    assert await started_jobs(world) == 1
    assert await count(world.sessions, "procrastinate_jobs", f"{PROCESS_JOBS} AND status = 'succeeded'") == 4
    # The failed event's next attempt waits for its delay, as any failed attempt's does.
    assert await count(world.sessions, "procrastinate_jobs", f"{PROCESS_JOBS} AND status = 'todo'") == 1
    assert await world.wallet(kofi) == (AMOUNT, 0)
    # The failing event moved nothing: one credit (kofi's) is the only transfer the run made.
    assert await world.wallet(ama) == (0, 0)
    assert (await world.shown("collections", doomed))["status"] == "action_required"
    assert await count(world.sessions, "ledger_transfers") == transfers + 1
    await assert_ledger_clean(world.sessions)


async def test_a_taken_event_costs_one_statement_for_its_job_and_one_commit(world: World, kofi: PartyWallet) -> None:
    paid = await collecting(world, kofi)
    for charge_id in range(1, 5):
        await deliver(world, paid, charge_id)

    with db.statements_sent() as sent:
        await run_jobs(world.database_url, world.settings)

    # The first event's job is fetched and finished by procrastinate, on its own connections.
    # Each event taken after it: its job taken and finished in one statement, its event and
    # collection read under lock, its status written, one commit; then a look that finds none.
    taken = [
        "WITH job AS",
        "SELECT webhooks_inbound_events.seq, webhooks_inbound_events.id,",
        "SELECT payments_collections.seq, payments_collections.id,",
        "UPDATE webhooks_inbound_events SET",
        "COMMIT",
    ]
    assert sent[-(3 * len(taken) + 2) :] == [*taken * 3, "WITH job AS", "COMMIT"], sent
    assert [r[1:4] for r in await outcomes(world)] == [("processed", 0, "changed")] + [
        ("processed", 0, "unchanged")
    ] * 3
    await assert_ledger_clean(world.sessions)


WORKERS = 3
COLLECTIONS = 6
EVENTS_EACH = 10
WORKER_TIMEOUT_SECONDS = 300


def processed_by(log: Path) -> list[str]:
    """The events a worker's log says it processed (its JSON lines)."""
    return [
        str(line["event_id"])
        for line in (json.loads(text) for text in log.read_text(errors="replace").splitlines() if text.startswith("{"))
        if line.get("event") == "webhook.processed"
    ]


async def receive_at_once(world: World, charges: list[tuple[int, str]]) -> None:
    """Signed ``charge.success`` webhooks received as intake stores them, in one transaction."""
    async with db.transaction(world.sessions) as session:
        for charge_id, reference in charges:
            payload = charge_success(reference, amount_wire=AMOUNT * 100, charge_id=charge_id)
            body, headers = signed("paystack", payload, world.settings)
            received = await webhooks_service.receive(
                session, provider="paystack", body=body, headers=headers, settings=world.settings, now=clock.now()
            )
            assert isinstance(received, webhooks_service.Received)


@pytest.mark.slow
async def test_worker_processes_on_one_backlog_process_each_event_once(
    world: World, kofi: PartyWallet, tmp_path: Path
) -> None:
    references = [await collecting(world, kofi) for _ in range(COLLECTIONS)]
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    # Few events per job, so that the workers hand the backlog between them many times.
    workers = [
        start_worker(world.database_url, log, "--queue", "webhooks", env={"SIKA_WEBHOOK_EVENTS_PER_JOB": "4"})
        for log in logs
    ]
    try:
        await until(
            world.sessions,
            "SELECT count(*) FROM procrastinate_workers",
            WORKERS,
            timeout_seconds=WORKER_TIMEOUT_SECONDS,
        )
        # The whole backlog at once: every worker hears of it in the same instant.
        await receive_at_once(
            world,
            [(number * COLLECTIONS + i, ref) for number in range(EVENTS_EACH) for i, ref in enumerate(references)],
        )
        await until(
            world.sessions,
            f"SELECT count(*) FROM {EVENTS} WHERE status = 'processed'",  # noqa: S608
            COLLECTIONS * EVENTS_EACH,
            timeout_seconds=WORKER_TIMEOUT_SECONDS,
        )
    finally:
        for worker in workers:
            await asyncio.to_thread(end_worker, worker)

    done = [processed_by(log) for log in logs]
    every = [event for events in done for event in events]
    assert len(every) == len(set(every)) == COLLECTIONS * EVENTS_EACH, [len(events) for events in done]
    assert sum(1 for events in done if events) > 1, f"one worker did everything: {[len(e) for e in done]}"
    outcomes_seen = [r[3] for r in await outcomes(world)]
    assert outcomes_seen.count("changed") == COLLECTIONS
    assert outcomes_seen.count("unchanged") == COLLECTIONS * (EVENTS_EACH - 1)
    assert await count(world.sessions, "procrastinate_jobs", f"{PROCESS_JOBS} AND status <> 'succeeded'") == 0
    # Most jobs were taken by a running job, not fetched one by one by procrastinate.
    assert await started_jobs(world) <= COLLECTIONS * EVENTS_EACH // 2
    assert await world.wallet(kofi) == (COLLECTIONS * AMOUNT, 0)
    checked = await asyncio.to_thread(sika_check, world.database_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
