"""Verified API keys are served from each API process's memory, and a revocation
reaches every process as soon as it commits (LISTEN/NOTIFY)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.key_cache import KeyCache, TokenStanding, VerifiedKey
from sika.auth.scopes import Scope
from sika.core import db
from tests.conftest import make_key
from tests.support.factories import create_party, party_headers
from tests.support.server import live_api

WORKERS = 2
CACHE_SECONDS = 300
"""Far longer than the test: only a notification can explain a refusal."""
REQUESTS = 30
"""Fresh connections per round: enough that every worker serves some (each is missed with odds 2**-29)."""

KEY = VerifiedKey(
    id="key_a",
    secret_hash="h",
    scopes=("platform",),
    platform_id="plt_default",
    expires_at=None,
    revoked_at=None,
    last_used_at=datetime(2026, 11, 26, tzinfo=UTC),
)
STANDING = TokenStanding(
    party_status="active",
    platform_id="plt_default",
    tokens_revoked_before=None,
    key_found=True,
    key_revoked_at=None,
    key_expires_at=None,
)


async def statuses(base_url: str, secret: str, path: str = "/v1/parties") -> list[int]:
    """Each request on a connection of its own, so the kernel spreads them over the workers."""
    answers = []
    for _ in range(REQUESTS):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            response = await client.get(path, headers={"Authorization": f"Bearer {secret}"})
            answers.append(response.status_code)
    return answers


def until_every_worker_listens(base_url: str) -> None:
    for _ in range(200):
        states = []
        for _ in range(REQUESTS):
            with httpx.Client(base_url=base_url, timeout=10) as client:
                states.append(client.get("/ready").json()["api_key_cache"])
        if set(states) == {"listening"}:
            return
    raise AssertionError(f"the API processes never all listened: {states}")


@pytest.fixture
def served(database_url: str) -> Iterator[str]:
    with live_api(database_url, workers=WORKERS, env={"SIKA_API_KEY_CACHE_SECONDS": str(CACHE_SECONDS)}) as base:
        until_every_worker_listens(base)
        yield base


async def set_revoked(sessions: async_sessionmaker[AsyncSession], key_id: str, revoked: bool) -> None:
    """Change the key around Sika: hand-written SQL sends no notification."""
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE auth_api_keys SET revoked_at = CASE WHEN :revoked THEN now() END WHERE id = :id"),
            {"revoked": revoked, "id": key_id},
        )


async def test_a_revocation_reaches_every_api_process_at_once(
    served: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await make_key(sessions, Scope.admin)
    secret = await make_key(sessions, Scope.platform)
    async with db.transaction(sessions) as session:
        key_id = str(await session.scalar(sa.text("SELECT id FROM auth_api_keys WHERE 'platform' = ANY(scopes)")))
    assert await statuses(served, secret) == [200] * REQUESTS

    # The processes answer from memory: a change made around Sika is not seen for a while.
    await set_revoked(sessions, key_id, revoked=True)
    assert await statuses(served, secret) == [200] * REQUESTS
    await set_revoked(sessions, key_id, revoked=False)

    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        revoked = await client.delete(f"/v1/api-keys/{key_id}", headers={"Authorization": f"Bearer {admin}"})
    assert revoked.status_code == 200, revoked.text
    assert await statuses(served, secret) == [401] * REQUESTS


@pytest.mark.parametrize("revoke", ["tokens", "suspension"])
async def test_a_party_tokens_revocation_reaches_every_api_process_at_once(
    served: str, sessions: async_sessionmaker[AsyncSession], revoke: str
) -> None:
    key = {"Authorization": f"Bearer {await make_key(sessions, Scope.platform)}"}
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        party = (await create_party(client, key))["id"]
        token = (await party_headers(client, key, party))["Authorization"].removeprefix("Bearer ")
    own = f"/v1/parties/{party}"
    assert await statuses(served, token, own) == [200] * REQUESTS

    # Served from memory: a suspension written around Sika is not seen for a while.
    async with db.transaction(sessions) as session:
        await session.execute(sa.text("UPDATE parties SET status = 'suspended' WHERE id = :id"), {"id": party})
    assert await statuses(served, token, own) == [200] * REQUESTS
    async with db.transaction(sessions) as session:
        await session.execute(sa.text("UPDATE parties SET status = 'active' WHERE id = :id"), {"id": party})

    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        if revoke == "tokens":
            done = await client.post(f"{own}/tokens/revoke", headers=key)
        else:
            done = await client.patch(own, json={"status": "suspended"}, headers=key)
    assert done.status_code == 200, done.text
    assert await statuses(served, token, own) == [401] * REQUESTS


def test_a_revoked_key_takes_the_standing_of_its_tokens_with_it() -> None:
    cache = KeyCache(ttl_seconds=CACHE_SECONDS)
    cache.listening = True
    cache.put_standing(("pty_a", "key_a"), STANDING, read_at_generation=cache.generation)
    cache.put_standing(("pty_a", "key_b"), STANDING, read_at_generation=cache.generation)
    cache.heard("key:lookupa:key_a")
    assert cache.get_standing(("pty_a", "key_a")) is None
    assert cache.get_standing(("pty_a", "key_b")) == STANDING
    cache.heard("party:pty_a")
    assert cache.get_standing(("pty_a", "key_b")) is None
    cache.put_standing(("pty_b", "key_b"), STANDING, read_at_generation=cache.generation)
    cache.heard("something a newer version says")
    assert cache.get_standing(("pty_b", "key_b")) is None


def test_a_key_read_while_a_revocation_arrived_is_not_kept() -> None:
    cache = KeyCache(ttl_seconds=CACHE_SECONDS)
    cache.listening = True
    read_at = cache.generation
    cache.forget("lookup_a")
    cache.put("lookup_a", KEY, read_at_generation=read_at)
    assert cache.get("lookup_a") is None
    cache.put("lookup_a", KEY, read_at_generation=cache.generation)
    assert cache.get("lookup_a") == KEY


def test_a_deaf_cache_answers_nothing_and_forgets_everything() -> None:
    cache = KeyCache(ttl_seconds=CACHE_SECONDS)
    cache.put("lookup_a", KEY, read_at_generation=cache.generation)
    assert cache.get("lookup_a") is None
    cache.listening = True
    cache.put("lookup_a", KEY, read_at_generation=cache.generation)
    cache.deafen()
    cache.listening = True
    assert cache.get("lookup_a") is None


def test_a_key_is_kept_no_longer_than_its_time() -> None:
    now = [0.0]
    cache = KeyCache(ttl_seconds=30, clock=lambda: now[0])
    cache.listening = True
    cache.put("lookup_a", KEY, read_at_generation=cache.generation)
    now[0] = 30.0
    assert cache.get("lookup_a") == KEY
    now[0] = 30.5
    assert cache.get("lookup_a") is None
