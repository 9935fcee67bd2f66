"""Platforms and the keys bound to them, made over the API by a global admin key."""

from __future__ import annotations

from typing import Any

import httpx


async def create_platform(client: httpx.AsyncClient, admin_headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """A platform (a marketplace in Senegal unless ``body`` says otherwise)."""
    response = await client.post(
        "/v1/platforms", json={"name": "Marché Dakar", "default_currency": "XOF", **body}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    platform: dict[str, Any] = response.json()
    return platform


async def key_headers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], *, scopes: list[str], platform_id: str | None
) -> dict[str, str]:
    """Authorization headers with a new key of ``scopes``, bound to ``platform_id`` (None: global)."""
    body: dict[str, Any] = {"name": "tenancy test key", "scopes": scopes}
    if platform_id is not None:
        body["platform_id"] = platform_id
    response = await client.post("/v1/api-keys", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert response.json()["platform_id"] == platform_id
    return {"Authorization": f"Bearer {response.json()['secret']}"}
