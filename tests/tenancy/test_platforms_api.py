"""Platforms over the API: a global admin creates and changes them; a platform's own
keys read their platform only; which platform a new party or key belongs to."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.factories import create_party
from tests.support.idempotency import NO_KEY
from tests.support.ledger import Sessions
from tests.support.operations import row_counts as counts
from tests.support.platforms import create_platform, key_headers


class TestCreate:
    async def test_an_admin_creates_a_platform_with_defaults_and_an_audit_row(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
    ) -> None:
        platform = await create_platform(
            client, admin_headers, fee_policy={"XOF": {"percent_bps": 150, "fixed_minor": 25}}
        )
        assert platform["id"].startswith("plt_")
        assert platform["fee_policy"] == {"XOF": {"percent_bps": 150, "fixed_minor": 25}}
        assert platform["settings"] == {
            "auto_release_delay_seconds": 172_800,
            "p2p_policy": "open",
            "time_zone": "UTC",
            "p2p_certified_level": 1,
            "p2p_limits": {},
            "p2p_allowlist_self_service": False,
            "fraud_rules": {
                "new_recipient": None,
                "burst": None,
                "large_amount": None,
                "many_recipients": None,
                "after_certification": None,
            },
            "instalment_reductions_by_platform": False,
        }
        fetched = await client.get(f"/v1/platforms/{platform['id']}", headers=admin_headers)
        assert fetched.json() == platform
        audit = await client.get("/v1/audit-events", params={"entity_id": platform["id"]}, headers=admin_headers)
        assert [row["action"] for row in audit.json()["data"]] == ["platform.created"]

    @pytest.mark.parametrize(
        "body",
        [
            {"fee_policy": {"xof": {"percent_bps": 1}}},
            {"fee_policy": {"XOF": {"percent_bps": 10_001}}},
            {"fee_policy": {"XOF": {"fixed_minor": -1}}},
            {"fee_policy": {"XOF": {"percent_bps": 1.5}}},
            {"settings": {"time_zone": "Mars/Olympus"}},
            {"settings": {"p2p_policy": "anyone"}},
            {"default_currency": "francs"},
            {"name": ""},
        ],
    )
    async def test_bad_input_is_422_and_creates_nothing(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions, body: dict[str, Any]
    ) -> None:
        before = await counts(sessions)
        response = await client.post(
            "/v1/platforms", json={"name": "X", "default_currency": "XOF", **body}, headers=admin_headers
        )
        assert response.status_code == 422, response.text
        assert await counts(sessions) == before

    async def test_a_key_bound_to_a_platform_creates_no_platform(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
    ) -> None:
        platform = await create_platform(client, admin_headers)
        bound_admin = await key_headers(client, admin_headers, scopes=["admin"], platform_id=platform["id"])
        before = await counts(sessions)
        response = await client.post(
            "/v1/platforms", json={"name": "Mine", "default_currency": "XOF"}, headers=bound_admin
        )
        assert (response.status_code, response.json()["code"]) == (403, "bound_key_cannot_create_platforms")
        assert await counts(sessions) == before

    async def test_a_platform_key_creates_no_platform(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        before = await counts(sessions)
        response = await client.post(
            "/v1/platforms", json={"name": "Mine", "default_currency": "XOF"}, headers=platform_headers
        )
        assert response.status_code == 403
        assert await counts(sessions) == before


class TestRead:
    async def test_a_global_key_lists_every_platform_a_bound_key_its_own(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], platform_headers: dict[str, str]
    ) -> None:
        other = await create_platform(client, admin_headers)
        every = await client.get("/v1/platforms", headers=admin_headers)
        assert [p["id"] for p in every.json()["data"]] == [other["id"], "plt_default"]
        own = await client.get("/v1/platforms", headers=platform_headers)
        assert [p["id"] for p in own.json()["data"]] == ["plt_default"]
        hidden = await client.get(f"/v1/platforms/{other['id']}", headers=platform_headers)
        assert (hidden.status_code, hidden.json()["code"]) == (404, "platform_not_found")
        fees = await client.get(f"/v1/platforms/{other['id']}/fees", headers=platform_headers)
        assert (fees.status_code, fees.json()["code"]) == (404, "platform_not_found")


class TestUpdate:
    async def test_an_admin_changes_the_fee_policy_and_settings_whole(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        platform = await create_platform(client, admin_headers, settings={"p2p_policy": "allowlist"})
        response = await client.patch(
            f"/v1/platforms/{platform['id']}",
            json={"fee_policy": {"GHS": {"fixed_minor": 50}}, "settings": {"time_zone": "Africa/Accra"}},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.text
        changed = response.json()
        assert changed["fee_policy"] == {"GHS": {"percent_bps": 0, "fixed_minor": 50}}
        assert changed["settings"]["time_zone"] == "Africa/Accra"
        assert changed["settings"]["p2p_policy"] == "open"
        assert changed["name"] == platform["name"]

    async def test_a_platform_key_changes_nothing(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], admin_headers: dict[str, str]
    ) -> None:
        response = await client.patch("/v1/platforms/plt_default", json={"name": "Mine"}, headers=platform_headers)
        assert response.status_code == 403
        unchanged = await client.get("/v1/platforms/plt_default", headers=admin_headers)
        assert unchanged.json()["name"] == "Default platform"

    async def test_a_bound_admin_cannot_change_another_platform(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        mine = await create_platform(client, admin_headers, name="Mine")
        theirs = await create_platform(client, admin_headers, name="Theirs")
        bound_admin = await key_headers(client, admin_headers, scopes=["admin"], platform_id=mine["id"])
        response = await client.patch(f"/v1/platforms/{theirs['id']}", json={"name": "Taken"}, headers=bound_admin)
        assert response.status_code == 404
        unchanged = await client.get(f"/v1/platforms/{theirs['id']}", headers=admin_headers)
        assert unchanged.json()["name"] == "Theirs"


class TestWhichPlatformANewObjectBelongsTo:
    async def test_with_one_platform_a_global_key_needs_not_say(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        party = await create_party(client, admin_headers)
        assert party["platform_id"] == "plt_default"

    async def test_with_several_a_global_key_must_say_which(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
    ) -> None:
        other = await create_platform(client, admin_headers)
        before = await counts(sessions)
        party = await client.post(
            "/v1/parties",
            json={"display_name": "Awa", "type": "individual", "country": "SN"},
            headers=admin_headers,
        )
        assert (party.status_code, party.json()["code"]) == (422, "platform_required")
        key = await client.post("/v1/api-keys", json={"name": "p", "scopes": ["platform"]}, headers=admin_headers)
        assert (key.status_code, key.json()["code"]) == (422, "platform_required")
        assert await counts(sessions) == before
        named = await create_party(client, admin_headers, platform_id=other["id"])
        assert named["platform_id"] == other["id"]

    async def test_a_global_support_key_stays_global(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str]
    ) -> None:
        await create_platform(client, admin_headers)
        response = await client.post("/v1/api-keys", json={"name": "s", "scopes": ["support"]}, headers=admin_headers)
        assert (response.status_code, response.json()["platform_id"]) == (201, None)

    async def test_a_bound_key_creates_under_its_platform_and_names_no_other(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
    ) -> None:
        mine = await create_platform(client, admin_headers)
        theirs = await create_platform(client, admin_headers)
        headers = await key_headers(client, admin_headers, scopes=["platform"], platform_id=mine["id"])
        bound_admin = await key_headers(client, admin_headers, scopes=["admin"], platform_id=mine["id"])
        party = await create_party(client, headers)
        assert party["platform_id"] == mine["id"]
        before = await counts(sessions)
        elsewhere = await client.post(
            "/v1/parties",
            json={"display_name": "Awa", "type": "individual", "country": "SN", "platform_id": theirs["id"]},
            headers=headers,
            extensions=NO_KEY,
        )
        assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "platform_not_found")
        foreign_key = await client.post(
            "/v1/api-keys",
            json={"name": "x", "scopes": ["platform"], "platform_id": theirs["id"]},
            headers=bound_admin,
            extensions=NO_KEY,
        )
        assert foreign_key.status_code == 404
        assert await counts(sessions) == before

    async def test_a_global_key_naming_no_such_platform_is_404(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
    ) -> None:
        before = await counts(sessions)
        response = await client.post(
            "/v1/parties",
            json={"display_name": "Awa", "type": "individual", "country": "SN", "platform_id": "plt_nowhere"},
            headers=admin_headers,
            extensions=NO_KEY,
        )
        assert (response.status_code, response.json()["code"]) == (404, "platform_not_found")
        assert await counts(sessions) == before
