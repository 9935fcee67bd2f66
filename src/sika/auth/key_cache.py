"""Verified API keys kept in each API process for a short while, so that the hot
path authenticates without a database round trip; a revoked key is forgotten by
every process at once.

Revoking a key sends ``NOTIFY sika_api_keys`` with its lookup prefix from the
revoking transaction (PostgreSQL delivers it when that transaction commits).
Each API process listens on a connection of its own (``listen``) and forgets the
key. The cache answers only while that connection is listening: when it drops,
the cache empties and every request reads its key from the database until the
listener is back. So a revocation reaches every process as soon as it commits,
and ``API_KEY_CACHE_SECONDS`` bounds how long a key changed any other way (an
operator's hand-written SQL, which sends no notification) may still be served.

A lookup that raced a revocation never stores what it read: each forget bumps a
generation, and a key read before the bump is not kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
import structlog

CHANNEL = "sika_api_keys"
RECONNECT_SECONDS = 1.0
MAX_KEYS = 10_000
"""Past this many keys the cache starts again: a bound on memory, far above any installation's keys."""

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class VerifiedKey:
    """What authentication needs of a key row, detached from any session."""

    id: str
    secret_hash: str
    scopes: tuple[str, ...]
    platform_id: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCache:
    def __init__(self, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._keys: dict[str, tuple[float, VerifiedKey]] = {}
        self.generation = 0
        """Bumped by every forget: a key read before the bump is not stored."""
        self.listening = False
        """True while this process hears revocations; the cache answers only then."""

    @property
    def state(self) -> str:
        """``off`` (no caching), ``listening`` (answering) or ``deaf`` (its listener is reconnecting)."""
        if self.ttl_seconds <= 0:
            return "off"
        return "listening" if self.listening else "deaf"

    def get(self, lookup_prefix: str) -> VerifiedKey | None:
        if not self.listening:
            return None
        found = self._keys.get(lookup_prefix)
        if found is None:
            return None
        stored_at, key = found
        if self._clock() - stored_at > self.ttl_seconds:
            del self._keys[lookup_prefix]
            return None
        return key

    def put(self, lookup_prefix: str, key: VerifiedKey, *, read_at_generation: int) -> None:
        """Keep ``key`` unless the cache is deaf or something was forgotten since it was read."""
        if not self.listening or read_at_generation != self.generation:
            return
        if len(self._keys) >= MAX_KEYS:
            self._keys.clear()
        self._keys[lookup_prefix] = (self._clock(), key)

    def forget(self, lookup_prefix: str) -> None:
        self.generation += 1
        self._keys.pop(lookup_prefix, None)

    def deafen(self) -> None:
        """The listener is gone: keep nothing, answer nothing, until it is back."""
        self.listening = False
        self.generation += 1
        self._keys.clear()


async def listen(database_url: str, cache: KeyCache) -> None:
    """Hear revocations for as long as the process runs, reconnecting when the connection drops."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                cache.listening = True
                async for notification in connection.notifies():
                    cache.forget(notification.payload)
        except (psycopg.Error, OSError) as exc:
            log.warning("api_key_cache.listener_lost", error=str(exc))
        finally:
            cache.deafen()
        await asyncio.sleep(RECONNECT_SECONDS)
