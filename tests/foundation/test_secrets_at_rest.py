"""A secret shown once lives in its first answer only: after every route whose
answer carries one, no column of any table holds it (the keys table keeps a
hash), and a replay under the same Idempotency-Key answers the marker instead."""

from __future__ import annotations

import re

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.idempotency import shown_once
from tests.support.factories import create_party
from tests.support.routes import api_routes

Sessions = async_sessionmaker[AsyncSession]

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "ARRAY", "USER-DEFINED")
API_KEY_PATTERN = "sika_[0-9a-f]{12}_"


async def _columns(sessions: Sessions) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "JOIN information_schema.tables USING (table_schema, table_name) "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1, 2"
            )
        )
        return [(table, column, kind) for table, column, kind in rows]


async def places_holding(sessions: Sessions, needle: str, *, regex: bool = False) -> list[str]:
    """Every ``table.column`` of the database in which ``needle`` appears, in any row."""
    found = []
    for table, column, kind in await _columns(sessions):
        if kind == "bytea":
            # Printable bytes as themselves: a JSON answer stored as bytes reads as its text.
            value = f"encode(\"{column}\", 'escape')"
        elif kind in TEXT_TYPES:
            value = f'"{column}"::text'
        else:
            continue
        test = f"{value} ~ :needle" if regex else f"strpos({value}, :needle) > 0"
        async with sessions() as session:
            hits = await session.scalar(
                sa.text(f'SELECT count(*) FROM "{table}" WHERE {test}'),  # noqa: S608 - names from the catalog
                {"needle": needle},
            )
        if hits:
            found.append(f"{table}.{column}")
    return found


def test_the_routes_with_secrets_are_these(app: FastAPI) -> None:
    """A new route that answers a secret must join the scan below."""
    routes = {
        route.name: shown_once.fields_of(route.original.response_model)
        for route in api_routes(app.routes)
        if shown_once.fields_of(route.original.response_model)
    }
    assert routes == {
        "create_api_key": {"secret"},
        "mint_party_token": {"token"},
        "create_webhook_endpoint": {"secret"},
        "rotate_webhook_secret": {"secret"},
    }


@pytest.mark.parametrize("idempotency_key", [None, "make-ci-key"])
async def test_a_new_api_keys_secret_is_nowhere_at_rest(
    client: httpx.AsyncClient, sessions: Sessions, admin_headers: dict[str, str], idempotency_key: str | None
) -> None:
    headers = {**admin_headers, **({"Idempotency-Key": idempotency_key} if idempotency_key else {})}
    body = {"name": "ci", "scopes": ["read"]}
    first = await client.post("/v1/api-keys", json=body, headers=headers)
    assert first.status_code == 201
    secret = first.json()["secret"]
    assert re.match(API_KEY_PATTERN, secret)
    # The key works: the secret is real, and only its hash is kept.
    assert (await client.get("/v1/audit-events", headers={"Authorization": f"Bearer {secret}"})).status_code == 403

    if idempotency_key:
        replay = await client.post("/v1/api-keys", json=body, headers=headers)
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.status_code == 201
        assert replay.json() == {**first.json(), "secret": shown_once.REDACTED}

    random_part = secret.split("_", 2)[2]  # sika_<key id>_<random>, and the random part may hold "_"
    assert await places_holding(sessions, secret) == []
    assert await places_holding(sessions, random_part) == []
    # No API key at all, this one or the fixture's, anywhere.
    assert await places_holding(sessions, API_KEY_PATTERN, regex=True) == []


async def test_a_party_token_is_nowhere_at_rest(
    client: httpx.AsyncClient, sessions: Sessions, platform_headers: dict[str, str]
) -> None:
    party = await create_party(client, platform_headers)
    headers = {**platform_headers, "Idempotency-Key": "token-for-checkout"}
    first = await client.post(f"/v1/parties/{party['id']}/tokens", json={"lifetime_seconds": 600}, headers=headers)
    assert first.status_code == 201
    token = first.json()["token"]
    assert (
        await client.get(f"/v1/parties/{party['id']}", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200

    replay = await client.post(f"/v1/parties/{party['id']}/tokens", json={"lifetime_seconds": 600}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == {**first.json(), "token": shown_once.REDACTED}

    signature = token.rsplit(".", 1)[1]
    assert await places_holding(sessions, token) == []
    assert await places_holding(sessions, signature) == []
    assert await places_holding(sessions, API_KEY_PATTERN, regex=True) == []


async def test_a_webhook_signing_secret_is_nowhere_at_rest(
    client: httpx.AsyncClient, sessions: Sessions, platform_headers: dict[str, str]
) -> None:
    """Kept encrypted under OUTBOUND_SECRETS_KEY, which the database does not hold: a
    dump alone cannot sign a webhook. The one rotation gives is not kept either."""
    headers = {**platform_headers, "Idempotency-Key": "endpoint-for-hooks"}
    body = {"url": "http://127.0.0.1:9/hooks"}
    first = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert first.status_code == 201
    replay = await client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert replay.json() == {**first.json(), "secret": shown_once.REDACTED}
    rotated = await client.post(
        f"/v1/webhook-endpoints/{first.json()['id']}/rotate-secret", json={}, headers=platform_headers
    )
    assert rotated.status_code == 200
    for secret in (first.json()["secret"], rotated.json()["secret"]):
        assert secret.startswith("whsec_")
        assert await places_holding(sessions, secret.removeprefix("whsec_")) == []


async def test_the_scan_sees_what_is_there(
    client: httpx.AsyncClient, sessions: Sessions, admin_headers: dict[str, str]
) -> None:
    """Guards the scan against finding nothing because it looks nowhere: what is
    not secret about a new key is found in text, JSON and bytes columns alike."""
    headers = {**admin_headers, "Idempotency-Key": "probe"}
    created = await client.post("/v1/api-keys", json={"name": "probe-name-1f2e", "scopes": ["read"]}, headers=headers)
    assert created.status_code == 201
    assert await places_holding(sessions, "probe-name-1f2e") == [
        "audit_events.data",
        "auth_api_keys.name",
        "idempotency_keys.response_body",
    ]
    assert await places_holding(sessions, "probe-name-[0-9a-f]{4}", regex=True) == [
        "audit_events.data",
        "auth_api_keys.name",
        "idempotency_keys.response_body",
    ]
