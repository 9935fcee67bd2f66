"""A worker process SIGKILLed between a release and its auto-payout: the API and the
worker as real processes, the sandbox over HTTP posting its webhooks to the API.

Killed while the payout job's first phase is still open (its hold placed, its row
not yet committed), the job is retried once the dead worker's heartbeat is stale
and starts the payout; killed while the provider is being asked (the payout's
first phase committed), the retried job starts nothing and the payout is
finished by its webhook. Either way: exactly one payout, the provider asked once,
every balance exact, ``sika check`` clean."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.auth.scopes import Scope
from sika.core import db
from sika.escrow import service as escrow_service
from tests.conftest import make_key
from tests.escrow.conftest import scalar
from tests.support import database
from tests.support.payments import SUCCESS_PHONE
from tests.support.sandbox import eventually
from tests.support.stack import Stack, live_stack

Sessions = async_sessionmaker[AsyncSession]
AMOUNT = 10_000
WAIT_SECONDS = 40.0
NUDGE_SECONDS = 2.0
SILENT_PHONE = "+2250700000052"
"""The sandbox's ``no_answer`` number: Paystack records the transfer, answers after Sika's timeout."""
PAYOUT_JOB_DOING = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task AND status = 'doing'"
WAITING_ON_PAYOUTS = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'payments_payouts'::regclass"


@pytest.fixture(scope="module")
def crash_database(pg_url: str, template_db: str) -> Iterator[str]:
    with database.fresh_database(pg_url, template_db) as url:
        yield url


@pytest.fixture(scope="module")
async def crash_sessions(crash_database: str) -> AsyncIterator[Sessions]:
    engine = db.make_engine(crash_database, pool_size=2, max_overflow=4)
    yield db.make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
def stack(crash_database: str) -> Iterator[Stack]:
    with live_stack(crash_database) as running:
        running.start_api()
        yield running


@pytest.fixture
async def api(stack: Stack, crash_sessions: Sessions) -> AsyncIterator[Api]:
    keys = {scope: await make_key(crash_sessions, scope) for scope in (Scope.platform, Scope.admin)}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
        yield Api(client, platform=keys[Scope.platform], admin=keys[Scope.admin])
    if stack.worker is not None:
        stack.worker.stop()


class Api:
    def __init__(self, client: httpx.AsyncClient, *, platform: str, admin: str) -> None:
        self.client = client
        self.platform = {"Authorization": f"Bearer {platform}"}
        self.admin = {"Authorization": f"Bearer {admin}"}
        self.keys = 0

    async def post(self, path: str, body: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
        self.keys += 1
        headers = {**(self.admin if admin else self.platform), "Idempotency-Key": f"crash-{time.time()}-{self.keys}"}
        response = await self.client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        answered: dict[str, Any] = response.json()
        return answered

    async def get(self, path: str, **params: str) -> Any:
        response = await self.client.get(path, params=params, headers=self.platform)
        assert response.status_code == 200, response.text
        return response.json()

    async def party_and_wallet(self, name: str) -> tuple[str, str]:
        party = await self.post("/v1/parties", {"display_name": name, "type": "individual", "country": "CI"})
        wallet = await self.post(f"/v1/parties/{party['id']}/wallets", {"currency": "XOF"})
        return party["id"], wallet["id"]

    async def delivered_escrow(self, phone: str) -> tuple[str, str, str]:
        """A funded escrow with ``auto_payout`` to ``phone``, its one milestone delivered:
        (its id, the beneficiary, the beneficiary's wallet)."""
        client, client_wallet = await self.party_and_wallet("Awa Client")
        talent, talent_wallet = await self.party_and_wallet("Kofi Talent")
        await self.post(f"/v1/wallets/{client_wallet}/top-ups", {"amount_minor": AMOUNT}, admin=True)
        escrow = await self.post(
            "/v1/escrows",
            {
                "client_party_id": client,
                "beneficiary_party_id": talent,
                "currency": "XOF",
                "amount_minor": AMOUNT,
                "platform_fee_minor": 0,
                "milestones": [{"title": "the work", "amount_minor": AMOUNT}],
                "auto_payout": {"operator": "mtn", "phone": phone},
            },
        )
        await self.post(f"/v1/escrows/{escrow['id']}/fund", {})
        await self.post(f"/v1/escrows/{escrow['id']}/milestones/1/deliver", {})
        return escrow["id"], talent, talent_wallet

    async def wallet(self, wallet_id: str) -> tuple[int, int]:
        shown = await self.get(f"/v1/wallets/{wallet_id}")
        return shown["balance_minor"], shown["held_minor"]


async def defer(database_url: str, task: str, **kwargs: Any) -> None:
    """Queue a job for the stack's worker, as the scheduler would."""
    app = jobs_worker.build(database_url)
    async with app.open_async():
        await app.configure_task(task).defer_async(**kwargs)


async def restarted_until_paid(stack: Stack, api: Api, party_id: str) -> None:
    """Start a worker that retries the dead one's jobs, nudging ``jobs.retry_stalled`` (as the
    scheduler would each minute) until the party has a succeeded payout and no payout job is
    left to run (the dead worker's included)."""
    stack.start_worker(JOBS_STALLED_AFTER_SECONDS="2")

    async def done() -> bool:
        found = (await api.get("/v1/payouts", party_id=party_id))["data"]
        paid = any(payout["status"] == "succeeded" for payout in found)
        return paid and await _no_payout_job_left(stack.database_url)

    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        await defer(stack.database_url, "jobs.retry_stalled", timestamp=int(time.time()))
        try:
            await eventually(done, timeout_seconds=NUDGE_SECONDS, what="the payout, and no payout job left")
            return
        except AssertionError:
            assert time.monotonic() < deadline, stack.worker.log() if stack.worker else ""


async def _no_payout_job_left(database_url: str) -> bool:
    async with await psycopg.AsyncConnection.connect(db.libpq_url(database_url)) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status IN ('todo', 'doing')",
            (escrow_service.AUTO_PAYOUT_TASK,),
        )
        row = await cursor.fetchone()
    return row is not None and row[0] == 0


async def assert_paid_once(stack: Stack, api: Api, escrow_id: str, party_id: str, wallet_id: str) -> None:
    """Exactly one payout of the release, known once to the provider; the wallet empty; the ledger clean."""
    payouts = (await api.get("/v1/payouts", party_id=party_id))["data"]
    assert [(p["amount_minor"], p["status"]) for p in payouts] == [(AMOUNT, "succeeded")]
    with stack.sandbox_admin() as admin:
        at_paystack = [p for p in admin.get("/payouts").json() if p["reference"] == payouts[0]["id"]]
    assert len(at_paystack) == 1
    shown = await api.get(f"/v1/escrows/{escrow_id}")
    assert shown["status"] == "completed"
    first = shown["milestones"][0]
    assert (first["payout_state"], first["payout_id"]) == ("started", payouts[0]["id"])
    assert await api.wallet(wallet_id) == (0, 0)
    checked = stack.sika_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def runs_of_its_job(sessions: Sessions, escrow_id: str) -> int:
    """How many times a worker started the escrow's payout job."""
    started: int = await scalar(
        sessions,
        "SELECT count(*) FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id "
        "WHERE j.task_name = :task AND j.args->>'escrow_id' = :escrow AND e.type = 'started'",
        task=escrow_service.AUTO_PAYOUT_TASK,
        escrow=escrow_id,
    )
    return started


async def test_killed_before_the_payout_is_recorded_the_retried_job_pays_out_once(
    stack: Stack, api: Api, crash_sessions: Sessions
) -> None:
    escrow_id, talent, talent_wallet = await api.delivered_escrow(SUCCESS_PHONE)
    stack.start_worker()
    # Inserting a payout waits on this lock: the job's first phase stays open, its hold placed.
    blocker = await psycopg.AsyncConnection.connect(db.libpq_url(stack.database_url))
    try:
        await blocker.execute("LOCK TABLE payments_payouts IN EXCLUSIVE MODE")
        approved = await api.post(f"/v1/escrows/{escrow_id}/milestones/1/approve", {})
        assert approved["milestones"][0]["payout_state"] == "due"
        await eventually(
            lambda: _is(crash_sessions, WAITING_ON_PAYOUTS, 1),
            timeout_seconds=WAIT_SECONDS,
            what="the payout job to wait inside its first phase",
        )
        assert await _is(crash_sessions, PAYOUT_JOB_DOING, 1, task=escrow_service.AUTO_PAYOUT_TASK)
        stack.kill_worker()
    finally:
        await blocker.rollback()
        await blocker.close()
    assert (await api.get("/v1/payouts", party_id=talent))["data"] == []
    assert await api.wallet(talent_wallet) == (AMOUNT, 0)

    await restarted_until_paid(stack, api, talent)
    await assert_paid_once(stack, api, escrow_id, talent, talent_wallet)
    assert await runs_of_its_job(crash_sessions, escrow_id) == 2


async def test_killed_while_the_provider_is_asked_the_payout_is_not_started_again(
    stack: Stack, api: Api, crash_sessions: Sessions
) -> None:
    escrow_id, talent, talent_wallet = await api.delivered_escrow(SILENT_PHONE)
    stack.start_worker()
    await api.post(f"/v1/escrows/{escrow_id}/milestones/1/approve", {})
    await eventually(
        lambda: _is(crash_sessions, "SELECT count(*) FROM payments_payouts WHERE party_id = :party", 1, party=talent),
        timeout_seconds=WAIT_SECONDS,
        what="the payout's first phase to commit",
    )
    payout_id = (await api.get("/v1/payouts", party_id=talent))["data"][0]["id"]
    await eventually(lambda: _at_paystack(stack, payout_id), timeout_seconds=WAIT_SECONDS, what="Paystack to have it")
    assert await _is(crash_sessions, PAYOUT_JOB_DOING, 1, task=escrow_service.AUTO_PAYOUT_TASK)
    stack.kill_worker()

    await restarted_until_paid(stack, api, talent)
    await assert_paid_once(stack, api, escrow_id, talent, talent_wallet)
    retried = await scalar(
        crash_sessions,
        "SELECT count(*) FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id "
        "WHERE j.task_name = :task AND e.type = 'started'",
        task=escrow_service.AUTO_PAYOUT_TASK,
    )
    assert retried >= 2  # the job ran again after the kill, and started nothing


async def _at_paystack(stack: Stack, payout_id: str) -> bool:
    with stack.sandbox_admin() as admin:
        return any(payout["reference"] == payout_id for payout in admin.get("/payouts").json())


async def _is(sessions: Sessions, statement: str, wanted: int, **params: object) -> bool:
    return bool(await scalar(sessions, statement, **params) == wanted)
