"""Idempotency keys (the money rules in docs/architecture.md): replay, mismatch, refusals, and
truly parallel requests with one key executing once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api.deps import authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.unit_of_work import PhasedRoute, UnitOfWorkRoute
from sika.audit.models import AuditEvent
from sika.auth.models import ApiKey
from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.idempotency import service as idempotency_service
from sika.idempotency import shown_once
from sika.idempotency.models import IdempotencyKey
from tests.support.server import live_api

PARALLEL_REQUESTS = 24


async def _count(sessions: async_sessionmaker[AsyncSession], model: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def test_replay_returns_the_stored_answer(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "create-ops-key-1"}
    body = {"name": "ops", "scopes": ["read"]}
    first = await client.post("/v1/api-keys", json=body, headers=headers)
    keys_after_first = await _count(sessions, ApiKey)
    second = await client.post("/v1/api-keys", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    # The same key, but its secret was shown once, in the first answer: the store never held it.
    assert second.json() == {**first.json(), "secret": shown_once.REDACTED}
    assert first.json()["secret"].startswith("sika_")
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert await _count(sessions, ApiKey) == keys_after_first


async def test_same_key_other_body_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "k-mismatch"}
    await client.post("/v1/api-keys", json={"name": "a", "scopes": ["read"]}, headers=headers)
    keys_before = await _count(sessions, ApiKey)
    audit_before = await _count(sessions, AuditEvent)

    other = await client.post("/v1/api-keys", json={"name": "b", "scopes": ["read"]}, headers=headers)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _count(sessions, ApiKey) == keys_before
    assert await _count(sessions, AuditEvent) == audit_before


async def test_keys_belong_to_their_api_key(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], admin_headers: dict[str, str]
) -> None:
    """Two callers may use the same key string without seeing each other's answers."""
    other_admin = (
        await client.post("/v1/api-keys", json={"name": "a2", "scopes": ["admin"]}, headers=admin_headers)
    ).json()
    body = {"name": "shared", "scopes": ["read"]}
    one = await client.post("/v1/api-keys", json=body, headers={**admin_headers, "Idempotency-Key": "same"})
    two = await client.post(
        "/v1/api-keys",
        json=body,
        headers={"Authorization": f"Bearer {other_admin['secret']}", "Idempotency-Key": "same"},
    )
    assert one.json()["id"] != two.json()["id"]
    assert "idempotent-replayed" not in two.headers


async def test_a_refusal_is_replayed_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "revoke-missing"}
    first = await client.delete("/v1/api-keys/key_missing", headers=headers)
    assert first.status_code == 404  # DELETE is idempotent by nature; no key is stored for it
    audit_before = await _count(sessions, AuditEvent)
    refused = await client.post("/v1/alerts/alrt_missing/acknowledge", headers=headers)
    again = await client.post("/v1/alerts/alrt_missing/acknowledge", headers=headers)
    assert refused.status_code == again.status_code == 404
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["code"] == "alert_not_found"
    assert await _count(sessions, AuditEvent) == audit_before


@given(st.text(max_size=300) | st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=300))
def test_a_key_is_1_to_255_visible_ascii_characters(key: str) -> None:
    visible = 1 <= len(key) <= idempotency_service.MAX_KEY_LENGTH and all(33 <= ord(c) <= 126 for c in key)
    if visible:
        assert idempotency_service.check_key(key) == key
    else:
        with pytest.raises(idempotency_service.IdempotencyKeyInvalid):
            idempotency_service.check_key(key)


async def test_invalid_key_header_is_422(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["read"]}, headers={**admin_headers, "Idempotency-Key": "x" * 256}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_invalid"


async def test_expired_key_executes_again(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = clock.now()
    ttl = timedelta(hours=24)
    fingerprint = idempotency_service.fingerprint(method="POST", path="/v1/x", body=b"{}")
    async with db.transaction(sessions) as session:
        claimed = await idempotency_service.claim(
            session, owner="key:a", key="k", fingerprint=fingerprint, now=now, ttl=ttl
        )
        assert isinstance(claimed, idempotency_service.Claimed)
        await idempotency_service.store(
            session, claimed=claimed, response=idempotency_service.StoredResponse(201, b"{}", "application/json")
        )
    async with db.transaction(sessions) as session:
        replay = await idempotency_service.claim(
            session, owner="key:a", key="k", fingerprint=fingerprint, now=now + timedelta(hours=1), ttl=ttl
        )
        assert isinstance(replay, idempotency_service.StoredResponse)
    async with db.transaction(sessions) as session:
        again = await idempotency_service.claim(
            session, owner="key:a", key="k", fingerprint=fingerprint, now=now + ttl, ttl=ttl
        )
        assert isinstance(again, idempotency_service.Claimed)


async def test_purge_deletes_only_expired_keys(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = clock.now()
    async with db.transaction(sessions) as session:
        for index, age_hours in enumerate([1, 23, 25, 48]):
            session.add(
                IdempotencyKey(
                    owner="key:a",
                    key=f"k{index}",
                    fingerprint="f",
                    expires_at=now - timedelta(hours=age_hours) + timedelta(hours=24),
                )
            )
    async with db.transaction(sessions) as session:
        deleted = await idempotency_service.purge_expired(session, now=now)
    assert deleted == 2
    async with sessions() as session:
        left = set(await session.scalars(sa.select(IdempotencyKey.key)))
    assert left == {"k0", "k1"}


async def test_parallel_requests_with_one_key_execute_once(
    database_url: str, admin_headers: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    keys_before = await _count(sessions, ApiKey)
    audit_before = await _count(sessions, AuditEvent)
    body = {"name": "parallel", "scopes": ["read"]}
    headers = {**admin_headers, "Idempotency-Key": "parallel-create"}
    with live_api(database_url, workers=2) as base_url:
        limits = httpx.Limits(max_connections=PARALLEL_REQUESTS)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
            start = asyncio.Event()

            async def one() -> httpx.Response:
                await start.wait()
                return await http.post("/v1/api-keys", json=body, headers=headers)

            tasks = [asyncio.create_task(one()) for _ in range(PARALLEL_REQUESTS)]
            await asyncio.sleep(0.1)
            start.set()
            responses = await asyncio.gather(*tasks)

    assert [r.status_code for r in responses] == [201] * PARALLEL_REQUESTS
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if "idempotent-replayed" not in r.headers) == 1
    assert sum(1 for r in responses if r.json()["secret"].startswith("sika_")) == 1
    assert await _count(sessions, ApiKey) == keys_before + 1
    assert await _count(sessions, AuditEvent) == audit_before + 1


async def test_a_key_claimed_without_an_answer_says_since_when(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What a request killed between its phases leaves: the caller's route decides, by
    that age (its lease) and what the key made, whether a retry gets its state or 409."""
    now = clock.now()
    fingerprint = idempotency_service.fingerprint(method="POST", path="/v1/x", body=b"{}")
    async with db.transaction(sessions) as session:
        claimed = await idempotency_service.claim(
            session, owner="key:b", key="k", fingerprint=fingerprint, now=now, ttl=timedelta(hours=24)
        )
        assert isinstance(claimed, idempotency_service.Claimed)
    async with db.transaction(sessions) as session:
        retry = await idempotency_service.claim(
            session, owner="key:b", key="k", fingerprint=fingerprint, now=now, ttl=timedelta(hours=24)
        )
        stored = await session.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.owner == "key:b"))
    assert isinstance(retry, idempotency_service.Unanswered)
    assert stored is not None
    assert retry.started_at == stored.created_at
    assert stored.response_status is None


def _flaky_route(app: FastAPI, route_class: type[UnitOfWorkRoute], path: str) -> list[str]:
    """A POST on ``path`` that answers 503 (its provider down) on its first call,
    fails with a bug (500) on its second, then succeeds; the calls it saw."""
    calls: list[str] = []
    claim_check = idempotency_claim(authorize(Scope.admin))

    async def flaky(claim: IdempotencyClaim | None = Depends(claim_check)) -> Response:
        calls.append("call")
        if len(calls) == 1:
            return JSONResponse({"detail": "the provider is down"}, status_code=503)
        if len(calls) == 2:
            raise RuntimeError("a bug")
        return JSONResponse({"ok": True}, status_code=201)

    router = APIRouter(route_class=route_class)
    router.add_api_route(path, flaky, methods=["POST"])
    app.include_router(router)
    return calls


@pytest.mark.parametrize("route_class", [UnitOfWorkRoute, PhasedRoute])
async def test_a_5xx_answer_keeps_nothing_and_the_retry_runs(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
    route_class: type[UnitOfWorkRoute],
) -> None:
    calls = _flaky_route(app, route_class, "/v1/test-flaky")
    headers = {**admin_headers, "Idempotency-Key": "flaky-1"}
    keys_before = await _count(sessions, IdempotencyKey)

    for status in (503, 500):
        failed = await client.post("/v1/test-flaky", json={"a": 1}, headers=headers)
        assert failed.status_code == status
        assert await _count(sessions, IdempotencyKey) == keys_before

    retried = await client.post("/v1/test-flaky", json={"a": 1}, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert len(calls) == 3
    replayed = await client.post("/v1/test-flaky", json={"a": 1}, headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert len(calls) == 3
