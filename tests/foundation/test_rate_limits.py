"""Rate limits: per key and per address, answered 429 with Retry-After; with
a Redis URL the counts are shared between API processes."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.api.app import create_app
from sika.api.ratelimit import RateLimiter
from sika.auth.scopes import Scope
from sika.core.config import Environment, Settings
from tests.conftest import make_key
from tests.support.server import free_port

REDIS_START_TIMEOUT_SECONDS = 10


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (scripts/test installs it when it can)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
    while True:
        try:
            with redis.Redis.from_url(url) as probe:
                probe.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sika.test")


def _app(database_url: str, engine: AsyncEngine, **limits: str) -> FastAPI:
    return create_app(Settings(ENV=Environment.test, **limits), database_url=database_url, engine=engine)  # type: ignore[arg-type]


async def test_per_key_limit(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = _app(database_url, engine, RATE_LIMIT_PER_KEY="2/minute")
    first = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    second = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    async with _client(app) as client:
        assert [(await client.get("/v1/api-keys", headers=first)).status_code for _ in range(2)] == [200, 200]
        limited = await client.get("/v1/api-keys", headers=first)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        # Another key has its own allowance.
        assert (await client.get("/v1/api-keys", headers=second)).status_code == 200


async def test_failed_authentication_counts_against_the_address(database_url: str, engine: AsyncEngine) -> None:
    app = _app(database_url, engine, RATE_LIMIT_PER_ADDRESS="3/minute")
    async with _client(app) as client:
        codes = [
            (await client.get("/v1/api-keys", headers={"Authorization": "Bearer wrong"})).status_code for _ in range(4)
        ]
    assert codes == [401, 401, 401, 429]


async def test_redis_shares_limits_between_processes(
    redis_url: str, database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    limits = {"RATE_LIMIT_PER_KEY": "3/minute", "RATE_LIMIT_STORAGE_URL": redis_url}
    one, two = _app(database_url, engine, **limits), _app(database_url, engine, **limits)
    try:
        async with _client(one) as a, _client(two) as b:
            codes = [
                (await a.get("/v1/api-keys", headers=headers)).status_code,
                (await b.get("/v1/api-keys", headers=headers)).status_code,
                (await a.get("/v1/api-keys", headers=headers)).status_code,
                (await b.get("/v1/api-keys", headers=headers)).status_code,
            ]
    finally:
        # Over ASGI no lifespan runs, so the apps' Redis pools are closed here.
        await one.state.rate_limiter.aclose()
        await two.state.rate_limiter.aclose()
    assert codes == [200, 200, 200, 429]


def test_unknown_storage_is_refused() -> None:
    with pytest.raises(ValueError, match="memory:// or redis://"):
        RateLimiter(storage_url="memcached://x", per_key="1/minute", per_address="1/minute")
