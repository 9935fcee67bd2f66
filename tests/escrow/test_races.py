"""Requests and the minute job racing for the same milestones: each is moved once,
whichever comes first; the loser is told the state it found (409) and moves nothing."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, invariants
from sika.core.context import system_actor
from sika.escrow import service as escrow_service
from tests.escrow.conftest import Cast, act, funded, scalar
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]
ESCROWS = 12
AMOUNT = 1_000


async def _job(sessions: Sessions) -> int:
    moved = 0
    while True:
        async with db.transaction(sessions) as session:
            settled = await escrow_service.settle_due(
                session, now=clock.now(), actor=system_actor("test.race"), limit=2
            )
        moved += settled.released + settled.refunded
        if settled.escrows == 0:
            return moved


async def test_approvals_and_the_job_release_each_milestone_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrows = [await funded(client, cast, AMOUNT, release_after_delivery_seconds=0) for _ in range(ESCROWS)]
    for escrow in escrows:
        assert (await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)).status_code == 200
    approvals = [act(client, escrow, "milestones/1/approve", cast.client.headers) for escrow in escrows]
    job = asyncio.ensure_future(_job(sessions))
    try:
        answers = await all_of(*approvals)
    finally:
        by_job = await job
    said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
    assert set(said) <= {(200, None), (409, "milestone_state_conflict"), (409, "escrow_state_conflict")}, said
    assert said[(200, None)] + by_job == ESCROWS
    released = await scalar(sessions, "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'esc\\_%.m1.release'")
    assert released == ESCROWS
    events = await scalar(sessions, "SELECT count(*) FROM events WHERE type = 'escrow.milestone_released'")
    assert events == ESCROWS
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]
