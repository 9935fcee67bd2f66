"""The mandates' invariants hold after real flows, and each finds the drift it is there
for once a row is changed by hand behind the flows' backs, as ``sika check`` shows."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, invariants
from tests.mandates.conftest import Cast, act, create, scalar, sika_check

Sessions = async_sessionmaker[AsyncSession]
MANDATE_CHECKS = {"mandate_accounts", "mandate_payee_limits", "mandate_closed_empty"}


async def breached(sessions: Sessions) -> dict[str, list[str]]:
    """Per mandate check, the mandates it names."""
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    return {
        result.name: [breach.entity_id for breach in result.breaches]
        for result in report.results
        if result.domain == "mandates"
    }


async def by_hand(sessions: Sessions, *statements: str, **params: object) -> None:
    async with db.transaction(sessions) as session:
        for statement in statements:
            await session.execute(sa.text(statement), params)


async def spent_and_revoked(client: httpx.AsyncClient, cast: Cast) -> tuple[dict[str, Any], dict[str, Any]]:
    """One active mandate with a purchase and a spend to a payee, one revoked."""
    live = await create(client, cast, 10_000)
    purchase = {"merchant_id": cast.school["id"], "amount_minor": 2_000, "reference": "fees"}
    assert (await act(client, live, "purchases", cast.beneficiary.headers, purchase)).status_code == 201
    added = await act(
        client, live, "payees", cast.platform, {"party_id": cast.payee.party_id, "daily_limit_minor": 3_000}
    )
    spend = {"payee_id": added.json()["payees"][0]["id"], "amount_minor": 1_000, "reference": "rent"}
    assert (await act(client, live, "spends", cast.beneficiary.headers, spend)).status_code == 201
    party = await client.post(
        "/v1/parties", json={"display_name": "Second", "type": "individual", "country": "SN"}, headers=cast.platform
    )
    ended = await create(client, cast, 3_000, beneficiary_party_id=party.json()["id"])
    revoked = await act(client, ended, "revoke", cast.platform)
    assert revoked.status_code == 200, revoked.text
    return live, revoked.json()


async def test_real_flows_keep_every_mandate_check(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await spent_and_revoked(client, cast)
    assert await breached(sessions) == {check: [] for check in MANDATE_CHECKS}


async def test_a_drifted_mandate_account_is_caught_by_sika_check(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, database_url: str
) -> None:
    live, _ = await spent_and_revoked(client, cast)
    await by_hand(sessions, "UPDATE mandates SET spent_minor = spent_minor - 1 WHERE id = :id", id=live["id"])
    assert await breached(sessions) == {
        "mandate_accounts": [live["id"]],
        "mandate_payee_limits": [],
        "mandate_closed_empty": [],
    }
    checked = await asyncio.to_thread(sika_check, database_url)
    assert checked.returncode != 0
    assert live["id"] in checked.stdout


async def test_a_payee_paid_past_its_limit_is_found(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    live, _ = await spent_and_revoked(client, cast)
    await by_hand(sessions, "UPDATE mandate_payees SET daily_limit_minor = 999 WHERE mandate_id = :id", id=live["id"])
    assert (await breached(sessions))["mandate_payee_limits"] == [live["id"]]


async def test_money_left_in_an_ended_mandate_is_found(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    _, revoked = await spent_and_revoked(client, cast)
    account = await scalar(sessions, "SELECT account_id FROM mandates WHERE id = :id", id=revoked["id"])
    await by_hand(sessions, "UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = :id", id=account)
    found = await breached(sessions)
    assert found["mandate_closed_empty"] == [revoked["id"]]
    assert found["mandate_accounts"] == [revoked["id"]]
