"""Jobs deferred inside our transaction exist only if it commits; a worker
runs them; /ready reports the database, the migrations and the worker, and
(for information) whether each provider can be reached."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import procrastinate.exceptions
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.core import clock, db
from sika.core.config import Environment, Settings
from sika.idempotency.models import IdempotencyKey
from sika.jobs import app as jobs_app
from tests.support.server import free_port

WAIT_SECONDS = 20


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, database_url: str) -> AsyncIterator[None]:
    task = asyncio.create_task(
        jobs_worker.run_worker(settings, database_url=database_url, concurrency=2, install_signal_handlers=False)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _job_statuses(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(
            sa.text("SELECT status FROM procrastinate_jobs WHERE task_name = 'idempotency.purge_keys' ORDER BY id")
        )
        return [str(row[0]) for row in rows]


async def _job_status(sessions: async_sessionmaker[AsyncSession], job_id: int) -> str | None:
    async with sessions() as session:
        status = await session.scalar(sa.text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id})
        return None if status is None else str(status)


async def test_deferring_an_unknown_task_fails_loudly(app: object, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with db.transaction(sessions) as session:
        with pytest.raises(procrastinate.exceptions.TaskNotFound):
            await jobs_app.defer(session, "ledger.no_such_task")


async def test_a_job_deferred_in_a_rolled_back_transaction_never_exists(
    app: object, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async def defer_then_fail() -> None:
        async with db.transaction(sessions) as session:
            await jobs_app.defer(session, "idempotency.purge_keys", timestamp=0)
            assert await _job_statuses(sessions) == []  # not visible outside before commit
            raise RuntimeError("rolled back on purpose")

    with pytest.raises(RuntimeError, match="rolled back on purpose"):
        await defer_then_fail()
    assert await _job_statuses(sessions) == []

    async with db.transaction(sessions) as session:
        await jobs_app.defer(session, "idempotency.purge_keys", timestamp=0)
    assert await _job_statuses(sessions) == ["todo"]


async def test_worker_runs_deferred_job(
    app: object, settings: Settings, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with db.transaction(sessions) as session:
        session.add(
            IdempotencyKey(owner="o", key="old", fingerprint="f", expires_at=clock.now() - timedelta(seconds=1))
        )
        job_id = await jobs_app.defer(session, "idempotency.purge_keys", timestamp=0)
    async with running_worker(settings, database_url):
        for _ in range(WAIT_SECONDS * 10):
            if await _job_status(sessions, job_id) == "succeeded":
                break
            await asyncio.sleep(0.1)
    assert await _job_status(sessions, job_id) == "succeeded"
    async with sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0


async def test_ready_needs_a_live_worker(client: httpx.AsyncClient, settings: Settings, database_url: str) -> None:
    not_ready = await client.get("/ready")
    assert not_ready.status_code == 503
    checks = not_ready.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is True
    assert checks["migrations"]["current"] == checks["migrations"]["head"]
    assert checks["worker"]["ok"] is False

    async with running_worker(settings, database_url):
        for _ in range(WAIT_SECONDS * 10):
            ready = await client.get("/ready")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
    assert ready.status_code == 200
    assert ready.json()["checks"]["worker"]["ok"] is True


class TestProvidersOnReady:
    @pytest.fixture
    def listening_port(self) -> Iterator[int]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            yield sock.getsockname()[1]

    @pytest.fixture
    def settings(self, listening_port: int) -> Settings:
        closed = free_port()
        return Settings(
            ENV=Environment.test,
            PAYSTACK_BASE_URL=f"http://127.0.0.1:{listening_port}/paystack",
            FEDAPAY_BASE_URL=f"http://127.0.0.1:{closed}/fedapay",
            STRIPE_BASE_URL=f"http://127.0.0.1:{closed}/stripe",
        )

    async def test_an_unreachable_provider_is_shown_and_leaves_ready(
        self, client: httpx.AsyncClient, settings: Settings, database_url: str
    ) -> None:
        async with running_worker(settings, database_url):
            for _ in range(WAIT_SECONDS * 10):
                ready = await client.get("/ready")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        assert ready.json()["providers"] == {
            "paystack": {"reachable": True, "error": None},
            "fedapay": {"reachable": False, "error": "ConnectionRefusedError"},
            "stripe": {"reachable": False, "error": "ConnectionRefusedError"},
        }


async def test_metrics_expose_requests_pool_and_queue(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert 'sika_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "sika_http_request_duration_seconds_bucket" in text
    assert "sika_db_pool_checked_out" in text
    assert "sika_job_queue_depth" in text or "# TYPE sika_job_queue_depth gauge" in text
