"""A hold's refusals speak of what the caller sent (the wallet, the hold), in
its units, and name no id that was never written."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.factories import Owner
from tests.support.ledger import snapshot
from tests.wallets.conftest import place_hold, transfer_count, wallet_state

Sessions = async_sessionmaker[AsyncSession]


async def test_a_hold_above_the_available_amount_names_the_wallet_and_no_transfer(
    client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
) -> None:
    assert (await place_hold(client, platform_headers, funded.wallet_id, 1000)).status_code == 201
    before = await transfer_count(sessions)
    response = await place_hold(client, platform_headers, funded.wallet_id, 9500)
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "insufficient_funds"
    assert problem["detail"] == f"Wallet {funded.wallet_id} has 9000 available; 9500 requested (minor units of XOF)."
    assert "acct_" not in response.text
    assert "hold_" not in response.text
    assert "transfer_id" not in problem
    assert await transfer_count(sessions) == before
    assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 1000, 9000)


async def test_releasing_a_captured_hold_names_the_hold_and_no_new_id(
    client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, merchant: Owner, sessions: Sessions
) -> None:
    hold = (await place_hold(client, platform_headers, funded.wallet_id, 1000)).json()
    body = {"destination_wallet_id": merchant.wallet_id}
    captured = await client.post(f"/v1/holds/{hold['id']}/capture", json=body, headers=platform_headers)
    assert captured.status_code == 200
    before = await snapshot(sessions)
    answers = [await client.post(f"/v1/holds/{hold['id']}/release", headers=platform_headers) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [409, 409]
    problems = [answer.json() for answer in answers]
    assert {problem["code"] for problem in problems} == {"pending_transfer_already_resolved"}
    assert {problem["detail"] for problem in problems} == {f"Hold {hold['id']} is already captured."}
    assert all("transfer_id" not in problem for problem in problems)
    # The two answers differ only by their request ids: no id made up per call.
    assert {**problems[0], "request_id": None} == {**problems[1], "request_id": None}
    assert await snapshot(sessions) == before
    assert await wallet_state(client, platform_headers, funded.wallet_id) == (9000, 0, 9000)
