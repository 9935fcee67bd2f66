"""The minute job as it runs: a mandate is expired once its ``expires_at`` has come,
not before, its remainder returned to the sender with its event; then two ``sika
worker`` processes over hundreds of mandates due at once return each remainder
exactly once."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.context import system_actor
from sika.jobs import app as jobs_app
from sika.mandates import schemas
from sika.mandates import service as mandates_service
from sika.mandates import tasks as mandates_tasks
from sika.parties import schemas as parties_schemas
from sika.parties import service as parties_service
from tests.conftest import TEST_ACTOR
from tests.mandates.conftest import SENDER_FUNDS, Cast, available, create, events_of, scalar, sika_check
from tests.support.factories import funded_wallet_in
from tests.support.ledger import balance
from tests.support.workers import end_worker, start_worker, until

Sessions = async_sessionmaker[AsyncSession]
JOB = system_actor(mandates_tasks.EXPIRE_TASK)


async def test_expired_at_its_time_and_returned_once(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    mandate = await create(client, cast, 5_000, expires_at=(clock.now() + timedelta(hours=1)).isoformat())
    body = {"merchant_id": cast.school["id"], "amount_minor": 1_500, "reference": "books"}
    assert (await client.post(f"/v1/mandates/{mandate['id']}/purchases", json=body, headers=cast.platform)).is_success

    async def run(at_seconds: float) -> mandates_service.Expired:
        async with db.transaction(sessions) as session:
            return await mandates_service.expire_due(
                session, now=clock.now() + timedelta(seconds=at_seconds), actor=JOB
            )

    assert await run(3_500) == mandates_service.Expired(mandates=0, returned_minor=0)
    assert await run(3_700) == mandates_service.Expired(mandates=1, returned_minor=3_500)
    assert await run(3_700) == mandates_service.Expired(mandates=0, returned_minor=0)
    shown = (await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.sender.headers)).json()
    assert (shown["status"], shown["returned_minor"], shown["remaining_minor"]) == ("expired", 3_500, 0)
    assert await available(client, cast.platform, cast.sender.wallet_id) == SENDER_FUNDS - 1_500
    assert (await events_of(sessions, mandate["id"]))[-1] == "mandate.expired"
    actor = await scalar(
        sessions,
        "SELECT actor FROM audit_events WHERE entity_id = :id AND action = 'mandate.expired'",
        id=mandate["id"],
    )
    assert actor == f"system:{mandates_tasks.EXPIRE_TASK}"


MANDATES = 300
"""Six batches: enough for both workers to take some, bounded for two shared cores."""
SENDERS = 4
AMOUNT_MINOR = 1_000
WORKER_TIMEOUT_SECONDS = 300


async def _many_due(sessions: Sessions) -> list[str]:
    """``MANDATES`` active mandates of ``AMOUNT_MINOR`` from ``SENDERS`` senders, all past
    their expiry; returns the senders' wallets."""
    now = clock.now()
    async with db.transaction(sessions) as session:
        senders = [
            await funded_wallet_in(session, amount_minor=10**9, now=now, display_name=f"sender {n}", country="FR")
            for n in range(SENDERS)
        ]
    for start in range(0, MANDATES, 50):
        async with db.transaction(sessions) as session:
            for n in range(start, start + 50):
                child = await parties_service.create_party(
                    session,
                    body=parties_schemas.PartyCreate(
                        display_name=f"child {n}", type=parties_schemas.PartyType.individual, country="SN"
                    ),
                    actor=TEST_ACTOR,
                    now=now,
                )
                body = schemas.MandateCreate(
                    sender_party_id=senders[n % SENDERS][0].id,
                    beneficiary_party_id=child.id,
                    currency="XOF",
                    amount_minor=AMOUNT_MINOR,
                    expires_at=now + timedelta(minutes=1),
                )
                await mandates_service.create_mandate(session, body=body, actor=TEST_ACTOR, now=now)
    async with db.transaction(sessions) as session:
        await session.execute(sa.text("UPDATE mandates SET expires_at = :past"), {"past": now - timedelta(minutes=1)})
    return [wallet.id for _, wallet in senders]


_WAITING_ON_LOCKS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def _ended_by(log: Path) -> int:
    """What one worker's runs of the job ended, from its JSON log lines."""
    return sum(
        int(json.loads(line)["mandates"])
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("{") and '"mandates_expired"' in line
    )


@pytest.mark.slow
async def test_two_worker_processes_return_every_remainder_once(
    database_url: str, sessions: Sessions, tmp_path: Path, app: object
) -> None:
    sender_wallets = await _many_due(sessions)
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        # The senders' accounts are held from before the workers start until both wait on them in
        # their first batch: each has then taken mandates of its own, however fast the other would
        # have drained them, and the periodic run a worker may defer as it starts waits as well.
        async with db.transaction(sessions) as holder:
            await holder.execute(
                sa.text(
                    "SELECT 1 FROM ledger_accounts WHERE id IN (SELECT account_id FROM wallets WHERE id = ANY(:ids))"
                    " FOR UPDATE"
                ),
                {"ids": sender_wallets},
            )
            workers.extend(start_worker(database_url, log, "--queue", "mandates", "--concurrency", "1") for log in logs)
            await until(
                sessions, "SELECT count(*) FROM procrastinate_workers", 2, timeout_seconds=WORKER_TIMEOUT_SECONDS
            )
            async with db.transaction(sessions) as session:
                jobs = [await jobs_app.defer(session, mandates_tasks.EXPIRE_TASK, timestamp=0) for _ in workers]
            await until(sessions, _WAITING_ON_LOCKS, 2, timeout_seconds=WORKER_TIMEOUT_SECONDS)
        await until(
            sessions,
            "SELECT count(*) FROM mandates WHERE status = 'expired'",
            MANDATES,
            timeout_seconds=WORKER_TIMEOUT_SECONDS,
        )
        finished = "SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(:ids) AND status = 'succeeded'"
        await until(sessions, finished, len(jobs), ids=jobs, timeout_seconds=WORKER_TIMEOUT_SECONDS)
    finally:
        for worker in workers:
            await asyncio.to_thread(end_worker, worker)
    ended = [_ended_by(log) for log in logs]
    assert sum(ended) == MANDATES, ended
    assert all(count > 0 for count in ended), f"one worker did everything: {ended}"
    returns = await scalar(sessions, "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'man\\_%.return'")
    assert returns == MANDATES
    assert await scalar(sessions, "SELECT count(*) FROM events WHERE type = 'mandate.expired'") == MANDATES
    for wallet_id in sender_wallets:
        account = await scalar(sessions, "SELECT account_id FROM wallets WHERE id = :id", id=wallet_id)
        assert (await balance(sessions, account)).posted_minor == 10**9
    checked = await asyncio.to_thread(sika_check, database_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
