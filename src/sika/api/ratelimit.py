"""Rate limits with the ``limits`` library, each in a bucket of its own so
that one kind of traffic can never starve another:

* per API key or party, on authenticated requests;
* per client address, on failed authentications (and dashboard sign-ins);
* per provider, on correctly signed webhooks: a stranger cannot spend it,
  and failed logins from a shared address (a load balancer's) never block them;
* per client address, on ``/health``, ``/ready`` and ``/metrics``.

Memory by default; a Redis URL shares the counts across API processes."""

from __future__ import annotations

import math
from typing import Any

from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from sika.core import clock, errors


class RateLimiter:
    def __init__(
        self,
        *,
        storage_url: str,
        per_key: str,
        failed_auth_per_address: str,
        webhooks_per_provider: str,
        system_per_address: str,
    ) -> None:
        self._redis_pool: Any = None
        if storage_url.startswith(("redis://", "rediss://")):
            import redis.asyncio  # the `redis` extra: only needed when limits are shared

            # Our own pool, so shutdown can close it; redis-py rather than limits' default, coredis.
            self._redis_pool = redis.asyncio.ConnectionPool.from_url(storage_url)
            storage = storage_from_string(
                "async+" + storage_url, implementation="redispy", connection_pool=self._redis_pool
            )
        elif storage_url.startswith("memory://"):
            storage = storage_from_string("async+" + storage_url)
        else:
            raise ValueError(f"SIKA_RATE_LIMIT_STORAGE_URL must be memory:// or redis://…, not {storage_url!r}")
        # Two counters a window, not the moving window's list of every hit: with memory storage
        # that list is trimmed in a worker thread, a thread hop on nearly every request.
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._per_key = parse(per_key)
        self._failed_auth = parse(failed_auth_per_address)
        self._webhooks = parse(webhooks_per_provider)
        self._system = parse(system_per_address)

    async def aclose(self) -> None:
        if self._redis_pool is not None:
            await self._redis_pool.aclose()

    async def hit_key(self, key_id: str) -> None:
        await self._hit(self._per_key, "key", key_id)

    async def hit_failed_authentication(self, address: str) -> None:
        await self._hit(self._failed_auth, "failed-auth", address)

    async def hit_webhook(self, provider: str) -> None:
        await self._hit(self._webhooks, "webhook", provider)

    async def hit_system(self, address: str) -> None:
        await self._hit(self._system, "system", address)

    async def _hit(self, limit: object, namespace: str, identity: str) -> None:
        if await self._limiter.hit(limit, namespace, identity):  # type: ignore[arg-type]
            return
        stats = await self._limiter.get_window_stats(limit, namespace, identity)  # type: ignore[arg-type]
        retry_after = max(1, math.ceil(stats.reset_time - clock.now().timestamp()))
        raise errors.RateLimited(
            f"Rate limit {limit} exceeded; retry in {retry_after} s.",
            retry_after_seconds=retry_after,
        )
