"""Proofs sent at the same moment as each other and as the escrow's minute job: the same
photo is accepted once (the other request is told ``proof_duplicate``), and a milestone
approved on its own proof is released exactly once, whether the proof or the job comes first."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, invariants
from sika.core.context import system_actor
from sika.escrow import service as escrow_service
from tests.escrow.conftest import Cast, scalar
from tests.proofs.conftest import delivered, geofenced, send
from tests.proofs.photos import SITE, jpeg, now
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]
ESCROWS = 8


async def check_clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def test_the_same_photo_sent_twice_at_once_is_accepted_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrows = [await delivered(client, cast, geofenced(auto_approve=False)) for _ in range(2)]
    photo = jpeg(at=SITE, taken=now())
    for targets in ([escrows[0], escrows[0]], escrows):
        answers = await all_of(*(send(client, escrow, cast.platform, ("site.jpg", photo)) for escrow in targets))
        said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
        assert said == Counter({(201, None): 1, (409, "proof_duplicate"): 1}), said
        photo = jpeg(at=SITE, taken=now())
    assert await scalar(sessions, "SELECT count(DISTINCT sha256) = count(*) FROM proofs") is True
    assert await scalar(sessions, "SELECT count(*) FROM proofs") == 2


async def _job(sessions: Sessions) -> int:
    moved = 0
    while True:
        async with db.transaction(sessions) as session:
            settled = await escrow_service.settle_due(
                session, now=clock.now(), actor=system_actor("test.race"), limit=2
            )
        moved += settled.released
        if settled.escrows == 0:
            return moved


async def test_a_proof_and_the_job_release_each_milestone_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrows = [await delivered(client, cast, geofenced(), release_after_delivery_seconds=0) for _ in range(ESCROWS)]
    proofs = [
        send(client, escrow, cast.beneficiary.headers, ("site.jpg", jpeg(at=SITE, taken=now()))) for escrow in escrows
    ]
    job = asyncio.ensure_future(_job(sessions))
    try:
        answers = await all_of(*proofs)
    finally:
        by_job = await job
    said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
    assert set(said) <= {(201, None), (409, "milestone_state_conflict"), (409, "escrow_state_conflict")}, said
    by_proof = sum(answer.json()["data"][0]["released"] for answer in answers if answer.status_code == 201)
    assert by_proof + by_job == ESCROWS
    released = await scalar(sessions, "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'esc\\_%.m1.release'")
    assert released == ESCROWS
    events = await scalar(sessions, "SELECT count(*) FROM events WHERE type = 'escrow.milestone_released'")
    assert events == ESCROWS
    assert await scalar(sessions, "SELECT count(*) FROM proofs WHERE released") == by_proof
    await check_clean(sessions)
