"""Helpers for tests that need parties and party tokens over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


async def create_party(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "display_name": "Awa Diallo",
        "type": "individual",
        "country": "SN",
        "email": "awa@example.sn",
        "phone": "+221770000001",
        **overrides,
    }
    response = await client.post("/v1/parties", json=body, headers=headers)
    assert response.status_code == 201, response.text
    party: dict[str, Any] = response.json()
    return party


async def party_headers(client: httpx.AsyncClient, headers: dict[str, str], party_id: str) -> dict[str, str]:
    """Authorization headers carrying a fresh token for ``party_id``."""
    response = await client.post(f"/v1/parties/{party_id}/tokens", json={}, headers=headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
