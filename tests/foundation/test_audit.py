"""Every mutation writes an audit row in its own transaction; a failed one writes none."""

from __future__ import annotations

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.audit.models import AuditEvent
from sika.core import db


async def test_mutation_writes_an_audit_row(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await client.post(
        "/v1/api-keys",
        json={"name": "audited", "scopes": ["read"]},
        headers={**admin_headers, "x-request-id": "req-aud"},
    )
    key_id = created.json()["id"]
    page = await client.get("/v1/audit-events", params={"entity_id": key_id}, headers=admin_headers)
    events = page.json()["data"]
    assert [(e["action"], e["entity_type"], e["request_id"]) for e in events] == [
        ("api_key.created", "api_key", "req-aud")
    ]
    assert events[0]["actor"].startswith("key:key_")
    assert events[0]["data"]["scopes"] == ["read"]


async def test_failed_mutation_leaves_no_audit_row(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        before = await session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    response = await client.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["read", "read", "read", "read", "read"]}, headers=admin_headers
    )
    assert response.status_code == 422
    response = await client.delete("/v1/api-keys/key_missing", headers=admin_headers)
    assert response.status_code == 404
    async with sessions() as session:
        after = await session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert after == before


async def test_audit_log_is_append_only(
    database_url: str, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.post("/v1/api-keys", json={"name": "a", "scopes": ["read"]}, headers=admin_headers)
    with psycopg.connect(db.libpq_url(database_url), autocommit=True) as conn:
        for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


async def test_cursor_pagination_walks_every_event(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    for index in range(5):
        await client.post("/v1/api-keys", json={"name": f"k{index}", "scopes": ["read"]}, headers=admin_headers)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "action": "api_key.created"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/audit-events", params=params, headers=admin_headers)).json()
        seen.extend(event["seq"] for event in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6  # the five above and the admin key of the fixture
    assert seen == sorted(seen, reverse=True)
