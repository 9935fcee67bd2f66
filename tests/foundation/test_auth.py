"""API keys: 401 without a valid live key, 403 without the scope, per route."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock, db
from tests.conftest import make_key

# (method, path, scopes that may call it)
ROUTES = [
    ("GET", "/v1/api-keys", {Scope.admin}),
    ("POST", "/v1/api-keys", {Scope.admin}),
    ("DELETE", "/v1/api-keys/key_missing", {Scope.admin}),
    ("GET", "/v1/audit-events", {Scope.admin, Scope.support}),
    ("GET", "/v1/alerts", {Scope.admin, Scope.support}),
    ("POST", "/v1/alerts/alrt_missing/acknowledge", {Scope.admin, Scope.support}),
]
BODIES = {("POST", "/v1/api-keys"): {"name": "k", "scopes": ["read"]}}


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
@pytest.mark.parametrize("scope", list(Scope))
async def test_scope_table(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
    allowed: set[Scope],
    scope: Scope,
) -> None:
    secret = await make_key(sessions, scope)
    response = await client.request(
        method, path, json=BODIES.get((method, path)), headers={"Authorization": f"Bearer {secret}"}
    )
    if scope in allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
async def test_no_key_is_401(client: httpx.AsyncClient, method: str, path: str, allowed: set[Scope]) -> None:
    response = await client.request(method, path, json=BODIES.get((method, path)))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer sika_0123456789ab_wrongsecret", "Basic abc", "Bearer "],
)
async def test_bad_credentials_are_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/v1/audit-events", headers={"Authorization": header})
    assert response.status_code == 401


async def test_a_tampered_secret_is_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    secret = await make_key(sessions, Scope.admin)
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    response = await client.get("/v1/api-keys", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


async def test_revoked_key_is_refused(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = (
        await client.post("/v1/api-keys", json={"name": "s", "scopes": ["support"]}, headers=admin_headers)
    ).json()
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert (await client.get("/v1/audit-events", headers=headers)).status_code == 200

    revoked = await client.delete(f"/v1/api-keys/{created['id']}", headers=admin_headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    refused = await client.get("/v1/audit-events", headers=headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


async def test_expired_key_is_refused(client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]) -> None:
    secret = await make_key(sessions, Scope.admin, expires_at=clock.now() - timedelta(seconds=1))
    response = await client.get("/v1/api-keys", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_secret_is_shown_once_and_never_listed(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = (
        await client.post("/v1/api-keys", json={"name": "once", "scopes": ["read"]}, headers=admin_headers)
    ).json()
    listed = (await client.get("/v1/api-keys", headers=admin_headers)).text
    assert created["secret"].startswith("sika_")
    assert created["secret"] not in listed
    assert created["id"] in listed


async def test_last_used_at_is_recorded(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await client.get("/v1/api-keys", headers=admin_headers)
    keys = (await client.get("/v1/api-keys", headers=admin_headers)).json()["data"]
    assert all(key["last_used_at"] is not None for key in keys)


async def test_a_request_does_not_wait_for_another_recording_its_keys_use(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Once a minute a key's use is written in the request's transaction: the other
    requests of that key then in flight must not queue behind it for the row."""
    headers = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    async with await psycopg.AsyncConnection.connect(db.libpq_url(database_url)) as holder:
        # As a request of the same key recording its use holds the row until it ends.
        await holder.execute("SELECT id FROM auth_api_keys FOR UPDATE")
        response = await asyncio.wait_for(client.get("/v1/api-keys", headers=headers), timeout=10)
        assert response.status_code == 200
        await holder.rollback()


async def test_unknown_scope_is_a_validation_error(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post("/v1/api-keys", json={"name": "x", "scopes": ["root"]}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body.scopes")


@pytest.mark.parametrize("ago", [timedelta(seconds=1), timedelta(days=365)])
async def test_an_expiry_already_past_is_refused_on_its_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
    ago: timedelta,
) -> None:
    """A key born expired could never be used: refused, and nothing written."""
    before = await _counts(sessions)
    response = await client.post(
        "/v1/api-keys",
        json={"name": "late", "scopes": ["read"], "expires_at": (clock.now() - ago).isoformat()},
        headers=admin_headers,
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert [(error["field"], error["type"]) for error in body["errors"]] == [("body.expires_at", "datetime_future")]
    assert await _counts(sessions) == before


async def test_an_expiry_ahead_is_kept(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    expires_at = clock.now() + timedelta(days=30)
    body = {"name": "soon", "scopes": ["read"], "expires_at": expires_at.isoformat()}
    response = await client.post("/v1/api-keys", json=body, headers=admin_headers)
    assert response.status_code == 201
    assert response.json()["expires_at"] == expires_at.isoformat().replace("+00:00", "Z")


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        keys = await session.scalar(sa.text("SELECT count(*) FROM auth_api_keys"))
        audits = await session.scalar(sa.text("SELECT count(*) FROM audit_events"))
    return int(keys or 0), int(audits or 0)
