"""A path says what it allows: ``OPTIONS`` on any operation's path is answered
204 with ``Allow`` listing exactly the methods the OpenAPI document gives that
path (and ``OPTIONS``), without credentials and without touching anything (a path no route serves is 404); a
method the path does not take is refused 405 with the same ``Allow``, even on
a path two routes serve. With ``SIKA_CORS_ORIGINS`` set, a browser's preflight
is CORS's to answer, and a plain ``OPTIONS`` still gets its ``Allow``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika.api import problems
from sika.app import create_app
from sika.core.config import Environment, Settings
from tests.support.factories import funded_wallet
from tests.support.ledger import snapshot

ORIGIN = "https://app.example.com"


def _paths(app: FastAPI) -> dict[str, str]:
    """Each documented path, with a value in each of its parameters, and the ``Allow`` it must answer."""
    found = {}
    for path, item in app.openapi()["paths"].items():
        concrete = path.replace("{provider}", "paystack").replace("{", "x_").replace("}", "")
        found[concrete] = ", ".join(sorted({method.upper() for method in item} | {"OPTIONS"}))
    return found


async def test_options_answers_what_each_path_allows(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    admin_headers: dict[str, str],
) -> None:
    await funded_wallet(client, admin_headers, admin_headers, 5_000)
    before = await snapshot(sessions)
    paths = _paths(app)
    assert paths["/v1/collections"] == "GET, OPTIONS, POST", "two routes serve it, one Allow lists both"
    assert paths["/v1/webhooks/events"] == "GET, OPTIONS", "not /v1/webhooks/{provider}'s POST"
    for path, allowed in paths.items():
        response = await client.options(path)
        assert response.status_code == 204, f"{path}: {response.text}"
        assert response.headers["allow"] == allowed, path
        assert response.content == b""
        assert response.headers["x-request-id"]
    nowhere = await client.options("/v1/nothing-here")
    assert nowhere.status_code == 404
    assert "allow" not in nowhere.headers
    assert await snapshot(sessions) == before


async def test_a_method_a_path_does_not_take_is_405_with_its_allow(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    admin_headers: dict[str, str],
) -> None:
    await funded_wallet(client, admin_headers, admin_headers, 5_000)
    before = await snapshot(sessions)
    for path, allowed in _paths(app).items():
        response = await client.put(path, json={}, headers=admin_headers)
        assert response.status_code == 405, path
        assert response.headers["content-type"] == problems.PROBLEM_CONTENT_TYPE
        assert response.json()["code"] == "method_not_allowed"
        assert response.headers["allow"] == allowed, path
    assert await snapshot(sessions) == before


@pytest.fixture
async def cors_client(database_url: str, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(ENV=Environment.test, CORS_ORIGINS=[ORIGIN])
    app = create_app(settings, database_url=database_url, engine=engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sika.test") as client:
        yield client


async def test_with_cors_a_preflight_is_answered_by_cors(cors_client: httpx.AsyncClient) -> None:
    preflight = await cors_client.options(
        "/v1/collections",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    plain = await cors_client.options("/v1/collections")
    assert plain.status_code == 204
    assert plain.headers["allow"] == "GET, OPTIONS, POST"
