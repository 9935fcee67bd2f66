"""Verified API keys, and what decides whether a party token still stands, kept in
each API process for a short while, so that the hot path authenticates without a
database round trip; a revocation is heard by every process at once.

Revoking a key, suspending a party or revoking its tokens sends ``NOTIFY
sika_api_keys`` from the revoking transaction (PostgreSQL delivers it when that
transaction commits): ``key:<lookup prefix>:<key id>`` or ``party:<party id>``.
Each API process listens on a connection of its own (``listen``) and forgets the
key (and the standing of every token it minted) or the party's standings. The
cache answers only while that connection is listening: when it drops, the cache
empties and every request reads from the database until the listener is back.
So a revocation reaches every process as soon as it commits, and
``API_KEY_CACHE_SECONDS`` bounds how long a row changed any other way (an
operator's hand-written SQL, which sends no notification) may still be served.

A lookup that raced a revocation never stores what it read: each forget bumps a
generation, and a row read before the bump is not kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import psycopg
import structlog

CHANNEL = "sika_api_keys"
RECONNECT_SECONDS = 1.0
MAX_KEYS = 10_000
"""Past this many keys (or token standings) the cache starts them again: a bound on memory."""

log = structlog.get_logger(__name__)
_K = TypeVar("_K")
_V = TypeVar("_V")


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


@dataclass(frozen=True)
class TokenStanding:
    """What decides whether a party token still stands, beyond its signature:
    its party and the API key that minted it."""

    party_status: str
    platform_id: str
    tokens_revoked_before: datetime | None
    key_found: bool
    key_revoked_at: datetime | None
    key_expires_at: datetime | None


StandingOf = tuple[str, str]
"""(party id, id of the minting key)."""


class KeyCache:
    def __init__(self, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._keys: dict[str, tuple[float, VerifiedKey]] = {}
        self._standings: dict[StandingOf, tuple[float, TokenStanding]] = {}
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
        return self._fresh(self._keys, lookup_prefix)

    def put(self, lookup_prefix: str, key: VerifiedKey, *, read_at_generation: int) -> None:
        """Keep ``key`` unless the cache is deaf or something was forgotten since it was read."""
        self._keep(self._keys, lookup_prefix, key, read_at_generation)

    def get_standing(self, of: StandingOf) -> TokenStanding | None:
        return self._fresh(self._standings, of)

    def put_standing(self, of: StandingOf, standing: TokenStanding, *, read_at_generation: int) -> None:
        self._keep(self._standings, of, standing, read_at_generation)

    def forget(self, lookup_prefix: str, *, key_id: str | None = None) -> None:
        """Forget a key and the standing of every party token it minted."""
        self.generation += 1
        self._keys.pop(lookup_prefix, None)
        if key_id is not None:
            for of in [of for of in self._standings if of[1] == key_id]:
                del self._standings[of]

    def forget_party(self, party_id: str) -> None:
        self.generation += 1
        for of in [of for of in self._standings if of[0] == party_id]:
            del self._standings[of]

    def heard(self, payload: str) -> None:
        """A notification: ``key:<lookup prefix>:<key id>`` or ``party:<party id>``; anything else
        (a payload of an older version) empties the cache, the safe reading of what it cannot parse."""
        kind, _, rest = payload.partition(":")
        if kind == "key":
            lookup_prefix, _, key_id = rest.partition(":")
            self.forget(lookup_prefix, key_id=key_id or None)
        elif kind == "party":
            self.forget_party(rest)
        else:
            self.generation += 1
            self._keys.clear()
            self._standings.clear()

    def deafen(self) -> None:
        """The listener is gone: keep nothing, answer nothing, until it is back."""
        self.listening = False
        self.generation += 1
        self._keys.clear()
        self._standings.clear()

    def _fresh(self, entries: dict[_K, tuple[float, _V]], name: _K) -> _V | None:
        if not self.listening:
            return None
        found = entries.get(name)
        if found is None:
            return None
        stored_at, value = found
        if self._clock() - stored_at > self.ttl_seconds:
            del entries[name]
            return None
        return value

    def _keep(self, entries: dict[_K, tuple[float, _V]], name: _K, value: _V, read_at_generation: int) -> None:
        if not self.listening or read_at_generation != self.generation:
            return
        if len(entries) >= MAX_KEYS:
            entries.clear()
        entries[name] = (self._clock(), value)


async def listen(database_url: str, cache: KeyCache) -> None:
    """Hear revocations for as long as the process runs, reconnecting when the connection drops."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                cache.listening = True
                async for notification in connection.notifies():
                    cache.heard(notification.payload)
        except (psycopg.Error, OSError) as exc:
            log.warning("api_key_cache.listener_lost", error=str(exc))
        finally:
            cache.deafen()
        await asyncio.sleep(RECONNECT_SECONDS)
