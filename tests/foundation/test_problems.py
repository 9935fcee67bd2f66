"""Every error is RFC 9457 problem+json with the request id, never a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from sika import worker as jobs_worker
from sika.app import create_app
from sika.core.config import Environment, Settings

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_problem(response: httpx.Response, status: int, code: str, request_id: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == request_id
    assert response.headers["x-request-id"] == request_id
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


@pytest.fixture
def strict_app(database_url: str, engine: AsyncEngine) -> FastAPI:
    """Small limits, so 413 and 429 are reachable, and a route that fails unexpectedly."""
    settings = Settings(ENV=Environment.test, MAX_BODY_BYTES=1024, RATE_LIMIT_SYSTEM_PER_ADDRESS="3/minute")
    jobs_worker.build(database_url)
    app = create_app(settings, database_url=database_url, engine=engine)

    async def explode() -> None:
        raise RuntimeError("secret internals: /etc/passwd")

    app.add_api_route("/v1/_explode", explode, methods=["GET"])
    return app


@pytest.fixture
async def strict_client(strict_app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=strict_app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://sika.test")


async def test_400_malformed_json(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post(
        "/v1/api-keys",
        content=b"{not json",
        headers={**admin_headers, "content-type": "application/json", "x-request-id": "req-400"},
    )
    assert_problem(response, 400, "malformed_json", "req-400")


async def test_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-keys", headers={"x-request-id": "req-401"})
    assert_problem(response, 401, "not_authenticated", "req-401")


async def test_403(client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
    response = await client.get("/v1/api-keys", headers={**platform_headers, "x-request-id": "req-403"})
    assert_problem(response, 403, "permission_denied", "req-403")


async def test_404_domain(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.delete("/v1/api-keys/key_nope", headers={**admin_headers, "x-request-id": "req-404"})
    assert_problem(response, 404, "api_key_not_found", "req-404")


async def test_404_no_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere", headers={"x-request-id": "req-404b"})
    assert_problem(response, 404, "not_found", "req-404b")


async def test_413_declared(strict_client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await strict_client.post(
        "/v1/api-keys",
        content=b"x" * 2048,
        headers={**admin_headers, "content-type": "application/json", "x-request-id": "req-413"},
    )
    assert_problem(response, 413, "payload_too_large", "req-413")


async def test_413_streamed_without_length(strict_client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 512

    response = await strict_client.post(
        "/v1/api-keys",
        content=chunks(),
        headers={**admin_headers, "content-type": "application/json", "x-request-id": "req-413s"},
    )
    assert_problem(response, 413, "payload_too_large", "req-413s")


async def test_422_per_field(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.post(
        "/v1/api-keys", json={"name": "", "scopes": []}, headers={**admin_headers, "x-request-id": "req-422"}
    )
    body = assert_problem(response, 422, "validation_failed", "req-422")
    errors = body["errors"]
    assert isinstance(errors, list)
    fields = {error["field"] for error in errors}
    assert fields == {"body.name", "body.scopes"}


async def test_429_with_retry_after(strict_client: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert (await strict_client.get("/health")).status_code == 200
    response = await strict_client.get("/health", headers={"x-request-id": "req-429"})
    assert_problem(response, 429, "rate_limited", "req-429")
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_500_hides_internals(strict_client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await strict_client.get("/v1/_explode", headers={"x-request-id": "req-500"})
    body = assert_problem(response, 500, "internal_error", "req-500")
    assert "passwd" not in response.text
    assert body["title"] == "Internal server error"


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-keys")
    generated = response.headers["x-request-id"]
    assert len(generated) == 32
    assert response.json()["request_id"] == generated


async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-keys", headers={"x-request-id": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"


async def test_french_title_on_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-keys", headers={"accept-language": "fr-SN,fr;q=0.9"})
    assert response.json()["title"] == "Non authentifié"


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
