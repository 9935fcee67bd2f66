"""The escrow's invariants hold after real flows, and each finds the drift it is there
for once a row is changed by hand behind the flows' backs, as ``sika check`` shows."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, invariants
from tests.escrow.conftest import Cast, act, funded, scalar, sika_check

Sessions = async_sessionmaker[AsyncSession]
ESCROW_CHECKS = {"escrow_accounts", "escrow_milestones", "escrow_closed_empty"}


async def escrow_results(sessions: Sessions) -> dict[str, invariants.CheckResult]:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    return {result.name: result for result in report.results if result.domain == "escrow"}


async def breached(sessions: Sessions) -> dict[str, list[str]]:
    """Per escrow check, the escrows it names."""
    return {name: [b.entity_id for b in result.breaches] for name, result in (await escrow_results(sessions)).items()}


async def by_hand(sessions: Sessions, *statements: str, **params: object) -> None:
    async with db.transaction(sessions) as session:
        for statement in statements:
            await session.execute(sa.text(statement), params)


async def two_escrows(client: httpx.AsyncClient, cast: Cast) -> tuple[dict[str, Any], dict[str, Any]]:
    """One funded with milestone 1 released, one completed."""
    open_one = await funded(client, cast)
    for step in ("milestones/1/deliver", "milestones/1/approve"):
        assert (await act(client, open_one, step, cast.platform)).status_code == 200
    done = await funded(client, cast, 5_000)
    for step in ("milestones/1/deliver", "milestones/1/approve"):
        response = await act(client, done, step, cast.platform)
        assert response.status_code == 200, response.text
    return open_one, response.json()


async def test_real_flows_keep_every_escrow_check(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await two_escrows(client, cast)
    results = await escrow_results(sessions)
    assert set(results) == ESCROW_CHECKS
    assert all(result.breach_count == 0 for result in results.values())


async def test_an_escrow_row_drifting_from_its_account_is_found(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    open_one, _ = await two_escrows(client, cast)
    await by_hand(sessions, "UPDATE escrows SET released_minor = released_minor - 1 WHERE id = :id", id=open_one["id"])
    assert await breached(sessions) == {
        "escrow_accounts": [open_one["id"]],
        "escrow_milestones": [],
        "escrow_closed_empty": [],
    }


async def test_a_milestone_moved_beyond_its_amount_is_found(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    """The database refuses it; written around that guard (data restored from before
    it, say), the check still finds it."""
    open_one, _ = await two_escrows(client, cast)
    over = "UPDATE escrow_milestones SET refunded_minor = 1 WHERE escrow_id = :id AND number = 1"
    with pytest.raises(sa.exc.IntegrityError, match="moved_within_amount"):
        await by_hand(sessions, over, id=open_one["id"])
    await by_hand(
        sessions,
        "ALTER TABLE escrow_milestones DROP CONSTRAINT ck_escrow_milestones_moved_within_amount",
        over,
        id=open_one["id"],
    )
    assert (await breached(sessions))["escrow_milestones"] == [open_one["id"]]


async def test_money_left_in_a_completed_escrow_is_found_by_sika_check(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, database_url: str
) -> None:
    _, done = await two_escrows(client, cast)
    assert done["status"] == "completed"
    account = await scalar(sessions, "SELECT account_id FROM escrows WHERE id = :id", id=done["id"])
    await by_hand(sessions, "UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = :id", id=account)
    found = await breached(sessions)
    assert found["escrow_closed_empty"] == [done["id"]]
    assert found["escrow_accounts"] == [done["id"]]
    checked = await asyncio.to_thread(sika_check, database_url)
    assert checked.returncode != 0
    assert done["id"] in checked.stdout
