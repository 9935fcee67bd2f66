from __future__ import annotations

import httpx


async def test_health_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_api_keys_round_trip(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    created = await client.post("/v1/api-keys", json={"name": "ops", "scopes": ["read"]}, headers=admin_headers)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    listed = await client.get("/v1/api-keys", headers={"Authorization": f"Bearer {secret}"})
    assert listed.status_code == 403
    assert listed.headers["content-type"] == "application/problem+json"
