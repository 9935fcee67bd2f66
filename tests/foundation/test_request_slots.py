"""A process runs at most ``SIKA_DB_REQUEST_SLOTS`` requests' transactions at once; the
others wait their turn. A client that sends its body slowly holds no slot, and a
request that waits past ``SIKA_DB_REQUEST_SLOT_WAIT_SECONDS`` is answered 503 with
nothing moved and nothing kept under its Idempotency-Key."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.app import create_app
from sika.core import db
from sika.core.config import Environment, Settings
from sika.sandbox import signing
from tests.support import asgi
from tests.support.ledger import snapshot, until_waiting_for_locks
from tests.support.payments import assert_ledger_clean

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]

SLOTS = 2
PARALLEL = 24


def slotted(slots: int, *, wait_seconds: float = 30.0) -> Settings:
    return Settings(
        ENV=Environment.test,
        RATE_LIMIT_PER_KEY="100000/minute",
        RATE_LIMIT_PER_ADDRESS="100000/minute",
        DB_REQUEST_SLOTS=slots,
        DB_REQUEST_SLOT_WAIT_SECONDS=wait_seconds,
    )


@pytest.fixture
def settings() -> Settings:
    return slotted(SLOTS, wait_seconds=0.5)


@contextlib.contextmanager
def most_connections_at_once(engine: AsyncEngine) -> Iterator[list[int]]:
    """The most connections of ``engine``'s pool in use at once while the block runs (in ``[0]``)."""
    in_use = 0
    most = [0]

    def out(*_: object) -> None:
        nonlocal in_use
        in_use += 1
        most[0] = max(most[0], in_use)

    def back(*_: object) -> None:
        nonlocal in_use
        in_use -= 1

    pool = engine.sync_engine.pool
    with db.listening((pool, "checkout", out), (pool, "checkin", back)):
        yield most


async def open_accounts(client: httpx.AsyncClient, headers: Headers, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = await client.post("/v1/ledger/accounts", json={"currency": "XOF", "kind": "wallet"}, headers=headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def transfer(debit: str, credit: str, amount_minor: int) -> dict[str, Any]:
    return {
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount_minor": amount_minor,
        "currency": "XOF",
        "code": "slots",
    }


async def transfers_in_parallel(client: httpx.AsyncClient, headers: Headers, accounts: list[str]) -> None:
    async def one(n: int) -> None:
        debit, credit = accounts[n % len(accounts)], accounts[(n + 1) % len(accounts)]
        response = await client.post("/v1/ledger/transfers", json=transfer(debit, credit, n + 1), headers=headers)
        assert response.status_code == 201, response.text

    await asyncio.gather(*(one(n) for n in range(PARALLEL)))


async def test_no_more_transactions_at_once_than_slots(
    app: FastAPI,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    database_url: str,
    platform_headers: Headers,
    sessions: Sessions,
) -> None:
    accounts = await open_accounts(client, platform_headers, 8)
    with most_connections_at_once(engine) as bounded:
        await transfers_in_parallel(client, platform_headers, accounts)
    # The same load without a bound runs many transactions at once: the bound above is what held it.
    unbounded_app = create_app(slotted(0), database_url=database_url, engine=engine)
    async with asgi.client_of(unbounded_app) as unbounded_client:
        with most_connections_at_once(engine) as unbounded:
            await transfers_in_parallel(unbounded_client, platform_headers, accounts)
    assert bounded[0] <= SLOTS < unbounded[0]
    async with sessions() as session:
        moved = await session.scalar(sa.text("SELECT count(*) FROM ledger_transfers WHERE code = 'slots'"))
    assert moved == 2 * PARALLEL
    await assert_ledger_clean(sessions)


async def metric(client: httpx.AsyncClient, name: str) -> float:
    """The value ``/metrics`` gives for ``name`` (no labels)."""
    page = await client.get("/metrics")
    assert page.status_code == 200, page.text
    values = [line.split()[1] for line in page.text.splitlines() if line.startswith(f"{name} ")]
    assert len(values) == 1, page.text
    return float(values[0])


@contextlib.asynccontextmanager
async def transfers_stuck_on_a_lock(
    client: httpx.AsyncClient, headers: Headers, sessions: Sessions, debit: str, credit: str, slots: int
) -> AsyncIterator[None]:
    """``slots`` transfers from ``debit``, each holding a slot while it waits for the
    account's row, which another transaction holds until the block ends."""
    async with sessions() as locker, locker.begin():
        await locker.execute(sa.text("SELECT 1 FROM ledger_accounts WHERE id = :id FOR UPDATE"), {"id": debit})
        stuck = [
            asyncio.create_task(client.post("/v1/ledger/transfers", json=transfer(debit, credit, 7), headers=headers))
            for _ in range(slots)
        ]
        await until_waiting_for_locks(sessions, slots)
        yield
    for task in stuck:
        assert (await task).status_code == 201


async def test_a_request_that_waits_too_long_is_told_to_retry_and_nothing_moved(
    client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions
) -> None:
    debit, credit, other = await open_accounts(client, platform_headers, 3)
    key = {**platform_headers, "Idempotency-Key": "slots-busy-1"}
    timed_out = await metric(client, "sika_request_slot_timeouts_total")
    async with transfers_stuck_on_a_lock(client, platform_headers, sessions, debit, credit, SLOTS):
        before = await snapshot(sessions)
        waiting = asyncio.create_task(
            client.post("/v1/ledger/transfers", json=transfer(other, credit, 11), headers=key)
        )
        while await metric(client, "sika_request_slots_waiting") != 1:
            assert not waiting.done(), waiting.result().text
            await asyncio.sleep(0.02)
        busy = await waiting
        assert busy.status_code == 503, busy.text
        assert busy.headers["content-type"].startswith("application/problem+json")
        assert busy.json()["code"] == "service_busy"
        assert busy.headers["retry-after"] == "1"
        assert await snapshot(sessions) == before
    assert await metric(client, "sika_request_slots_waiting") == 0
    assert await metric(client, "sika_request_slot_timeouts_total") == timed_out + 1
    # Nothing was kept under the key: the retry runs.
    retried = await client.post("/v1/ledger/transfers", json=transfer(other, credit, 11), headers=key)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    await assert_ledger_clean(sessions)


def sending_slowly(
    app: FastAPI, path: str, headers: dict[str, str], body: bytes, rest_of_body: asyncio.Event
) -> tuple[asyncio.Task[None], list[MutableMapping[str, Any]]]:
    """A POST whose client sends the first bytes of its body, then the rest once
    ``rest_of_body`` is set; the app's task, and what it sent back."""
    raw_headers = [(b"host", b"sika.test"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = asgi.http_scope("POST", path, raw_headers, port=50001)
    parts = iter(
        [
            {"type": "http.request", "body": body[:10], "more_body": True},
            {"type": "http.request", "body": body[10:], "more_body": False},
        ]
    )
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        part = next(parts, None)
        if part is None:
            await asyncio.Event().wait()  # the client stays connected
        assert part is not None
        if not part["more_body"]:
            await rest_of_body.wait()
        return part

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    return asyncio.create_task(app(scope, receive, send)), sent


def signed_charge(settings: Settings, charge_id: int) -> tuple[bytes, dict[str, str]]:
    """A Paystack ``charge.success``, signed: the webhook route reads its body itself, as
    bytes, so no middleware has read it before the route's slot is taken."""
    payload = {
        "event": "charge.success",
        "data": {"id": charge_id, "status": "success", "reference": f"col_slow_{charge_id}", "amount": 250_000},
    }
    body = json.dumps(payload).encode()
    headers = signing.headers("paystack", body=body, settings=settings, timestamp=int(time.time()))
    return body, {"content-type": "application/json", **headers}


async def test_a_slow_body_holds_no_slot(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, platform_headers: Headers, sessions: Sessions
) -> None:
    debit, credit = await open_accounts(client, platform_headers, 2)
    rest_of_body = asyncio.Event()
    # As many providers as there are slots start posting an event, and stop halfway.
    slow = [
        sending_slowly(app, "/v1/webhooks/paystack", headers, body, rest_of_body)
        for body, headers in (signed_charge(settings, 8_100_000 + n) for n in range(SLOTS))
    ]
    await asyncio.sleep(0.1)
    # Meanwhile a transfer is served, well before its wait for a slot (0.5 s) could run out.
    served = await client.post("/v1/ledger/transfers", json=transfer(debit, credit, 3), headers=platform_headers)
    assert served.status_code == 201, served.text
    assert not any(task.done() for task, _ in slow)
    rest_of_body.set()
    await asyncio.wait_for(asyncio.gather(*(task for task, _ in slow)), timeout=10)
    for _, sent in slow:
        assert [message["status"] for message in sent if message["type"] == "http.response.start"] == [200]
    async with sessions() as session:
        stored = await session.scalar(sa.text("SELECT count(*) FROM webhooks_inbound_events"))
    assert stored == SLOTS
