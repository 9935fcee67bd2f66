"""Rate limits with the ``limits`` library: per API key on authenticated
routes, per client address on public ones (and on failed authentication).
Memory by default; a Redis URL shares the counts across API processes."""

from __future__ import annotations

import math
import time
from typing import Any

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from sika.core import errors


class RateLimiter:
    def __init__(self, *, storage_url: str, per_key: str, per_address: str) -> None:
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
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_key = parse(per_key)
        self._per_address = parse(per_address)

    async def aclose(self) -> None:
        if self._redis_pool is not None:
            await self._redis_pool.aclose()

    async def hit_key(self, key_id: str) -> None:
        await self._hit(self._per_key, "key", key_id)

    async def hit_address(self, address: str) -> None:
        await self._hit(self._per_address, "address", address)

    async def _hit(self, limit: object, namespace: str, identity: str) -> None:
        if await self._limiter.hit(limit, namespace, identity):  # type: ignore[arg-type]
            return
        stats = await self._limiter.get_window_stats(limit, namespace, identity)  # type: ignore[arg-type]
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise errors.RateLimited(
            f"Rate limit {limit} exceeded; retry in {retry_after} s.",
            retry_after_seconds=retry_after,
        )
