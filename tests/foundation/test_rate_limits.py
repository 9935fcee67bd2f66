"""Rate limits: per key, per address on failed authentication, per provider
on signed webhooks and apart for /health, /ready and /metrics, each answered
429 with Retry-After; X-Forwarded-For believed only from a trusted proxy;
with a Redis URL the counts are shared between API processes."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.api.ratelimit import RateLimiter
from sika.app import create_app
from sika.auth.scopes import Scope
from sika.core import client_address, errors
from sika.core.config import Environment, Settings
from sika.sandbox import signing
from tests.conftest import make_key
from tests.support.sandbox import SANDBOX_SECRETS
from tests.support.server import free_port

BAD_KEY = {"Authorization": "Bearer sika_000000000000_not-a-key"}

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


def _client(app: FastAPI, *, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://sika.test")


def _app(database_url: str, engine: AsyncEngine, **limits: Any) -> FastAPI:
    values: dict[str, Any] = {**SANDBOX_SECRETS, **limits}
    settings = Settings(ENV=Environment.test, **values)
    jobs_worker.build(database_url)  # a stored webhook defers its processing job
    return create_app(settings, database_url=database_url, engine=engine)


def _signed_webhook(app: FastAPI, provider: str, event_id: int) -> tuple[bytes, dict[str, str]]:
    """A webhook signed as the provider signs it, about a collection Sika does not know."""
    payload = {"event": "charge.success", "data": {"id": event_id, "reference": "col_unknown", "amount": 100}}
    if provider == "stripe":
        payload = {"id": f"evt_{event_id}", "type": "charge.succeeded", "data": {"object": {"id": "ch_1"}}}
    body = json.dumps(payload).encode()
    headers = signing.headers(provider, body=body, settings=app.state.settings, timestamp=int(time.time()))
    return body, {"content-type": "application/json", **headers}


async def _stored_webhooks(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(sa.text("SELECT count(*) FROM webhooks_inbound_events")) or 0)


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


async def test_a_claimed_request_counts_once_against_its_key(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The Idempotency-Key claim is made for the caller its route authorises, not
    by authenticating it a second time: a POST with a key costs one request."""
    app = _app(database_url, engine, RATE_LIMIT_PER_KEY="2/minute")
    headers = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}", "Idempotency-Key": "once"}
    body = {"name": "counted", "scopes": ["read"]}
    async with _client(app) as client:
        codes = [(await client.post("/v1/api-keys", json=body, headers=headers)).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


async def test_failed_authentication_counts_against_the_address(database_url: str, engine: AsyncEngine) -> None:
    app = _app(database_url, engine, RATE_LIMIT_PER_ADDRESS="3/minute")
    async with _client(app) as client:
        codes = [
            (await client.get("/v1/api-keys", headers={"Authorization": "Bearer wrong"})).status_code for _ in range(4)
        ]
    assert codes == [401, 401, 401, 429]


async def test_failed_logins_silence_neither_signed_webhooks_nor_health_checks(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Behind a load balancer everyone shares one address: 200 bad keys from it must not
    shut out the providers' webhooks or the monitoring (the default limits)."""
    app = _app(database_url, engine)
    async with _client(app) as client:
        codes = [(await client.get("/v1/api-keys", headers=BAD_KEY)).status_code for _ in range(200)]
        assert codes[-1] == 429
        assert set(codes) == {401, 429}

        body, headers = _signed_webhook(app, "paystack", 1)
        webhook = await client.post("/v1/webhooks/paystack", content=body, headers=headers)
        health = await client.get("/health")
        ready = await client.get("/ready")
        metrics = await client.get("/metrics")

    assert webhook.status_code == 200, webhook.text
    assert webhook.json() == {"received": True, "duplicate": False}
    assert await _stored_webhooks(sessions) == 1
    assert health.status_code == 200
    assert ready.status_code != 429  # 503 here: no worker runs in this test
    assert metrics.status_code == 200


async def test_a_forged_webhook_is_a_failed_authentication_and_a_signed_one_still_passes(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = _app(database_url, engine, RATE_LIMIT_PER_ADDRESS="2/minute")
    body, headers = _signed_webhook(app, "paystack", 2)
    forged = {**headers, "x-paystack-signature": "0" * 128}
    async with _client(app) as client:
        codes = [
            (await client.post("/v1/webhooks/paystack", content=body, headers=forged)).status_code for _ in range(3)
        ]
        assert (await client.get("/v1/api-keys", headers=BAD_KEY)).status_code == 429
        assert await _stored_webhooks(sessions) == 0
        genuine = await client.post("/v1/webhooks/paystack", content=body, headers=headers)
    assert codes == [401, 401, 429]
    assert genuine.status_code == 200
    assert await _stored_webhooks(sessions) == 1


async def test_signed_webhooks_are_limited_per_provider(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = _app(database_url, engine, RATE_LIMIT_WEBHOOKS_PER_PROVIDER="2/minute")
    async with _client(app) as client:
        codes = []
        for event_id in (11, 12, 13):
            body, headers = _signed_webhook(app, "paystack", event_id)
            codes.append((await client.post("/v1/webhooks/paystack", content=body, headers=headers)).status_code)
        assert await _stored_webhooks(sessions) == 2  # the third was refused before anything was stored
        body, headers = _signed_webhook(app, "stripe", 14)
        other_provider = await client.post("/v1/webhooks/stripe", content=body, headers=headers)
        # Failed logins are counted apart, so the exhausted provider leaves them alone too.
        login = await client.get("/v1/api-keys", headers=BAD_KEY)
    assert codes == [200, 200, 429]
    assert other_provider.status_code == 200, other_provider.text
    assert login.status_code == 401
    assert await _stored_webhooks(sessions) == 3


async def test_health_ready_and_metrics_have_a_bucket_of_their_own(database_url: str, engine: AsyncEngine) -> None:
    app = _app(database_url, engine, RATE_LIMIT_SYSTEM_PER_ADDRESS="3/minute", RATE_LIMIT_PER_ADDRESS="3/minute")
    async with _client(app) as client:
        system = [(await client.get(path)).status_code for path in ("/health", "/metrics", "/health", "/health")]
        login = await client.get("/v1/api-keys", headers=BAD_KEY)
    assert system == [200, 200, 200, 429]
    assert login.status_code == 401


class TestForwardedFor:
    async def test_a_trusted_proxy_names_the_client(self, database_url: str, engine: AsyncEngine) -> None:
        app = _app(database_url, engine, RATE_LIMIT_PER_ADDRESS="2/minute", TRUSTED_PROXIES=["10.0.0.0/8"])
        async with _client(app, peer="10.1.2.3") as proxy:

            async def login(chain: str) -> int:
                headers = {**BAD_KEY, "x-forwarded-for": chain}
                return (await proxy.get("/v1/api-keys", headers=headers)).status_code

            # The client may prepend anything; the address the trusted proxy saw is what counts.
            first = [await login(f"192.0.2.{n}, 198.51.100.7") for n in range(3)]
            # Another client behind the same proxy has its own allowance...
            second = [await login("198.51.100.8") for _ in range(2)]
            # ...also through two trusted hops: the nearest untrusted address is the client.
            chained = await login("198.51.100.8, 10.9.9.9")
        assert first == [401, 401, 429]
        assert second == [401, 401]
        assert chained == 429

    async def test_an_untrusted_peer_cannot_pick_its_address(self, database_url: str, engine: AsyncEngine) -> None:
        app = _app(database_url, engine, RATE_LIMIT_PER_ADDRESS="2/minute", TRUSTED_PROXIES=["10.0.0.0/8"])
        async with _client(app, peer="203.0.113.5") as client:
            codes = [
                (
                    await client.get("/v1/api-keys", headers={**BAD_KEY, "x-forwarded-for": f"198.51.100.{n}"})
                ).status_code
                for n in range(3)
            ]
        assert codes == [401, 401, 429]

    async def test_no_proxy_is_trusted_by_default(self, database_url: str, engine: AsyncEngine) -> None:
        app = _app(database_url, engine, RATE_LIMIT_PER_ADDRESS="2/minute")
        assert app.state.settings.TRUSTED_PROXIES == []
        async with _client(app, peer="10.1.2.3") as client:
            codes = [
                (
                    await client.get("/v1/api-keys", headers={**BAD_KEY, "x-forwarded-for": f"198.51.100.{n}"})
                ).status_code
                for n in range(3)
            ]
        assert codes == [401, 401, 429]

    @pytest.mark.parametrize(
        ("peer", "forwarded", "client"),
        [
            ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
            ("10.0.0.1", ["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
            ("10.0.0.1", ["1.1.1.1", "198.51.100.1, 10.0.0.2"], "198.51.100.1"),
            ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
            ("10.0.0.1", ["1.1.1.1, not-an-address, 10.0.0.2"], "10.0.0.2"),
            ("10.0.0.1", [], "10.0.0.1"),
            ("::ffff:10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
            ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
            ("testclient", ["198.51.100.1"], "testclient"),
            (None, ["198.51.100.1"], "unknown"),
        ],
    )
    def test_resolution(self, peer: str | None, forwarded: list[str], client: str) -> None:
        trusted = [ipaddress.ip_network("10.0.0.0/8")]
        assert client_address.resolve(peer, forwarded, trusted) == client


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
        RateLimiter(
            storage_url="memcached://x",
            per_key="1/minute",
            failed_auth_per_address="1/minute",
            webhooks_per_provider="1/minute",
            system_per_address="1/minute",
        )


def _default_limiter() -> RateLimiter:
    settings = Settings(ENV=Environment.test)
    return RateLimiter(
        storage_url=settings.RATE_LIMIT_STORAGE_URL,
        per_key=settings.RATE_LIMIT_PER_KEY,
        failed_auth_per_address=settings.RATE_LIMIT_PER_ADDRESS,
        webhooks_per_provider=settings.RATE_LIMIT_WEBHOOKS_PER_PROVIDER,
        system_per_address=settings.RATE_LIMIT_SYSTEM_PER_ADDRESS,
    )


async def _paced(hit: Any, *, total: int, per_second: float) -> None:
    """``total`` hits, never faster than ``per_second`` (slower if the machine is busy)."""
    started = time.monotonic()
    for number in range(total):
        await hit()
        ahead = started + (number + 1) / per_second - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def test_the_default_key_limit_carries_a_platform() -> None:
    """One platform key at 300 requests per second for three seconds (900, more than a
    minute of the old 600/minute): every one allowed, while another key's allowance is
    untouched and the bucket still ends somewhere."""
    limiter = _default_limiter()
    await _paced(lambda: limiter.hit_key("key_platform"), total=900, per_second=300)
    burst = [limiter.hit_key("key_runaway") for _ in range(5000)]
    outcomes = await asyncio.gather(*burst, return_exceptions=True)
    refused = [outcome for outcome in outcomes if isinstance(outcome, errors.RateLimited)]
    assert refused, "a runaway client must still meet the limit"
    assert len(refused) < len(outcomes)


async def test_the_default_webhook_bucket_takes_a_provider_burst() -> None:
    """A provider delivering a backlog at 1,500 per second (6,150 webhooks, more than the
    old per-minute allowance) is never refused, and it spends its own provider's bucket
    only: another provider and failed logins from its address are counted apart."""
    limiter = _default_limiter()
    await _paced(lambda: limiter.hit_webhook("paystack"), total=6150, per_second=1500)
    await limiter.hit_webhook("stripe")
    await limiter.hit_failed_authentication("127.0.0.1")
