"""A party token acts for its party's platform, names it, and a token naming
another platform than its party's is refused."""

from __future__ import annotations

import httpx
import jwt

from sika.auth import party_tokens
from sika.core import clock
from sika.core.config import Settings
from tests.support.factories import create_party, party_headers
from tests.support.platforms import create_platform, key_headers


def minted_key_id(settings: Settings, headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("Bearer ")
    return str(party_tokens.verify(settings, token=token, now=clock.now()).minted_by)


async def test_a_token_names_its_partys_platform(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    market = await create_platform(client, admin_headers)
    headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=market["id"])
    party = await create_party(client, headers)
    token = (await party_headers(client, headers, party["id"]))["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, options={"verify_signature": False})["plt"] == market["id"]


async def test_a_token_naming_another_platform_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    market = await create_platform(client, admin_headers)
    headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=market["id"])
    party = await create_party(client, headers)
    good = await party_headers(client, headers, party["id"])
    assert (await client.get(f"/v1/parties/{party['id']}", headers=good)).status_code == 200
    # Signed with Sika's own key, by the party's own minting key: only the platform is wrong.
    forged = party_tokens.mint(
        settings,
        party_id=party["id"],
        platform_id="plt_default",
        minted_by=minted_key_id(settings, good),
        lifetime_seconds=600,
        now=clock.now(),
    )
    response = await client.get(f"/v1/parties/{party['id']}", headers={"Authorization": f"Bearer {forged.token}"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_party_token")
    assert "another platform" in response.json()["detail"]
