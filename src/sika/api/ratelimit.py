"""Rate limits with the ``limits`` library: per API key on authenticated
routes, per client address on public ones (and on failed authentication).
Memory by default; a Redis URL shares the counts across API processes."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from sika.core import errors


class RateLimiter:
    def __init__(self, *, storage_url: str, per_key: str, per_address: str) -> None:
        storage_url = (
            storage_url.replace("redis://", "async+redis://", 1)
            if storage_url.startswith("redis://")
            else storage_url.replace("memory://", "async+memory://", 1)
        )
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self._per_key = parse(per_key)
        self._per_address = parse(per_address)

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
