"""A transfer request is one transaction: the Idempotency-Key's claim, the
transfer and the answer stored under the key commit together or not at all,
on the request's own connection."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.core import db
from tests.ledger.test_api import open_account
from tests.support.garbage import left_in_cycles
from tests.support.ledger import balance, snapshot

Sessions = async_sessionmaker[AsyncSession]

DOOMED_KEY = "answer-write-fails"

# The answer's write fails for one key, as a crash between the work and the
# stored answer would leave it: the database refuses the UPDATE that stores it.
REFUSE_ANSWER = f"""
CREATE FUNCTION test_refuse_answer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = '{DOOMED_KEY}' AND NEW.response_status IS NOT NULL THEN
        RAISE EXCEPTION 'the answer cannot be stored';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_answer BEFORE UPDATE ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION test_refuse_answer();
"""
ALLOW_ANSWER = "DROP TRIGGER test_refuse_answer ON idempotency_keys; DROP FUNCTION test_refuse_answer();"


async def _funded_pair(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, str]:
    world = await open_account(client, headers, kind="world")
    wallet = await open_account(client, headers)
    return str(world["id"]), str(wallet["id"])


async def test_a_failed_answer_write_moves_nothing_and_the_retry_moves_once(
    client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
) -> None:
    world, wallet = await _funded_pair(client, platform_headers)
    body = {"debit_account_id": world, "credit_account_id": wallet, "amount_minor": 700, "currency": "XOF", "code": "t"}
    headers = {**platform_headers, "Idempotency-Key": DOOMED_KEY}
    async with db.transaction(sessions) as session:
        await session.execute(sa.text(REFUSE_ANSWER))
    before = await snapshot(sessions)

    failed = await client.post("/v1/ledger/transfers", json=body, headers=headers)

    assert failed.status_code == 500, failed.text
    # The transfer went with the answer: no money moved, and no claim is left.
    assert await snapshot(sessions) == before
    async with db.transaction(sessions) as session:
        claims = await session.scalar(
            sa.text("SELECT count(*) FROM idempotency_keys WHERE key = :key"), {"key": DOOMED_KEY}
        )
        await session.execute(sa.text(ALLOW_ANSWER))
    assert claims == 0

    retried = await client.post("/v1/ledger/transfers", json=body, headers=headers)
    again = await client.post("/v1/ledger/transfers", json=body, headers=headers)

    assert retried.status_code == 201, retried.text
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == retried.json()
    after = await snapshot(sessions)
    assert after.transfer_count == before.transfer_count + 1
    assert (await balance(sessions, wallet)).credits_posted == 700


async def test_a_transfer_request_commits_once_on_its_own_connection(
    app: FastAPI, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions, engine: AsyncEngine
) -> None:
    """As under ``sika run``: the key cache listening, a first transfer having
    filled the per-process memories (the key, the accounts' platforms)."""
    world, wallet = await _funded_pair(client, platform_headers)
    body = {"debit_account_id": world, "credit_account_id": wallet, "amount_minor": 5, "currency": "XOF", "code": "t"}
    async with app.router.lifespan_context(app):
        await _until_listening(app)
        first = await client.post("/v1/ledger/transfers", json=body, headers=platform_headers)
        assert first.status_code == 201, first.text

        with db.statements_sent(engine) as sent:
            response = await client.post("/v1/ledger/transfers", json=body, headers=platform_headers)

    assert response.status_code == 201, response.text
    # The claim, the ledger function, the stored answer, one commit: nothing on another connection.
    assert sent == [
        "INSERT INTO idempotency_keys",
        "SELECT r_error, r_detail,",
        "UPDATE idempotency_keys SET",
        "COMMIT",
    ], sent
    assert (await balance(sessions, wallet)).credits_posted == 10


async def test_a_transfer_request_leaves_nothing_for_the_garbage_collector(
    client: httpx.AsyncClient, platform_headers: dict[str, str]
) -> None:
    """Its session, transaction and connection are freed when the request ends: left in
    reference cycles, they were some forty objects a request for the collector to walk."""
    world, wallet = await _funded_pair(client, platform_headers)
    body = {"debit_account_id": world, "credit_account_id": wallet, "amount_minor": 5, "currency": "XOF", "code": "t"}
    first = await client.post("/v1/ledger/transfers", json=body, headers=platform_headers)
    assert first.status_code == 201, first.text

    with left_in_cycles() as left:
        for n in range(3):
            headers = {**platform_headers, "Idempotency-Key": f"garbage-{n}"}
            response = await client.post("/v1/ledger/transfers", json=body, headers=headers)
            assert response.status_code == 201, response.text

    assert left == []


async def _until_listening(app: FastAPI) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while not app.state.key_cache.listening:
        assert asyncio.get_running_loop().time() < deadline, "the key cache never listened"
        await asyncio.sleep(0.02)
