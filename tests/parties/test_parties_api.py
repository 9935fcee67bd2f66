"""Parties over HTTP: create, read, list, change, suspend, and mint party tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.audit.models import AuditEvent
from sika.auth import party_tokens
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.config import Settings
from sika.parties.models import Party
from tests.conftest import make_key
from tests.support.factories import create_party, party_headers

Sessions = async_sessionmaker[AsyncSession]


async def party_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Party)) or 0)


async def audit_actions(sessions: Sessions, party_id: str) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(AuditEvent.action, AuditEvent.data)
            .where(AuditEvent.entity_type == "party", AuditEvent.entity_id == party_id)
            .order_by(AuditEvent.seq)
        )
        return [(action, data) for action, data in rows]


class TestCreateParty:
    async def test_creates_an_active_party_and_audits_it(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        response = await client.post(
            "/v1/parties",
            json={
                "display_name": "Boutique Kofi",
                "type": "business",
                "country": "GH",
                "email": "kofi@example.gh",
                "phone": "+233200000001",
            },
            headers=platform_headers,
        )
        assert response.status_code == 201, response.text
        party = response.json()
        assert party["id"].startswith("pty_")
        assert {k: v for k, v in party.items() if k not in {"id", "created_at", "updated_at"}} == {
            "display_name": "Boutique Kofi",
            "type": "business",
            "country": "GH",
            "email": "kofi@example.gh",
            "phone": "+233200000001",
            "status": "active",
            "tokens_revoked_before": None,
            "platform_id": "plt_default",
        }
        assert await audit_actions(sessions, party["id"]) == [("party.created", {"type": "business", "country": "GH"})]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("phone", "0770000001"),
            ("phone", "+0770000001"),
            ("phone", "+2217700000011234"),
            ("country", "sn"),
            ("country", "SEN"),
            ("type", "robot"),
            ("email", "not-an-email"),
            ("display_name", ""),
        ],
    )
    async def test_refuses_invalid_fields(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        field: str,
        value: str,
    ) -> None:
        body = {"display_name": "Awa", "type": "individual", "country": "SN", field: value}
        response = await client.post("/v1/parties", json=body, headers=platform_headers)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"
        assert [e["field"] for e in response.json()["errors"]] == [f"body.{field}"]
        assert await party_count(sessions) == 0

    async def test_needs_the_platform_scope(self, client: httpx.AsyncClient, sessions: Sessions) -> None:
        reader = {"Authorization": f"Bearer {await make_key(sessions, Scope.read)}"}
        body = {"display_name": "Awa", "type": "individual", "country": "SN"}
        response = await client.post("/v1/parties", json=body, headers=reader)
        assert response.status_code == 403
        assert await party_count(sessions) == 0

    async def test_idempotency_key_creates_once(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        body = {"display_name": "Awa", "type": "individual", "country": "SN"}
        headers = {**platform_headers, "Idempotency-Key": "create-awa-1"}
        first = await client.post("/v1/parties", json=body, headers=headers)
        again = await client.post("/v1/parties", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert await party_count(sessions) == 1


class TestReadParties:
    async def test_gets_one_party(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        party = await create_party(client, platform_headers)
        response = await client.get(f"/v1/parties/{party['id']}", headers=platform_headers)
        assert response.status_code == 200
        assert response.json() == party

    async def test_unknown_party_is_404(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        response = await client.get("/v1/parties/pty_nobody", headers=platform_headers)
        assert response.status_code == 404
        assert response.json()["code"] == "party_not_found"

    async def test_lists_newest_first_in_pages_with_filters(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str]
    ) -> None:
        created = [
            await create_party(client, platform_headers, display_name=f"P{i}", type=kind)
            for i, kind in enumerate(["individual", "business", "individual"])
        ]
        first = await client.get("/v1/parties?limit=2", headers=platform_headers)
        assert [p["id"] for p in first.json()["data"]] == [created[2]["id"], created[1]["id"]]
        cursor = first.json()["next_cursor"]
        second = await client.get(f"/v1/parties?limit=2&cursor={cursor}", headers=platform_headers)
        assert [p["id"] for p in second.json()["data"]] == [created[0]["id"]]
        assert second.json()["next_cursor"] is None
        businesses = await client.get("/v1/parties?type=business", headers=platform_headers)
        assert [p["id"] for p in businesses.json()["data"]] == [created[1]["id"]]

    async def test_support_and_read_keys_may_read(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        for scope in (Scope.support, Scope.read):
            headers = {"Authorization": f"Bearer {await make_key(sessions, scope)}"}
            assert (await client.get(f"/v1/parties/{party['id']}", headers=headers)).status_code == 200
            assert (await client.get("/v1/parties", headers=headers)).status_code == 200


class TestUpdateParty:
    async def test_changes_only_the_fields_sent_and_audits_their_names(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        response = await client.patch(
            f"/v1/parties/{party['id']}",
            json={"display_name": "Awa D.", "phone": None},
            headers=platform_headers,
        )
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["display_name"] == "Awa D."
        assert updated["phone"] is None
        assert updated["email"] == party["email"]
        assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(party["updated_at"])
        assert (await audit_actions(sessions, party["id"]))[1:] == [
            ("party.updated", {"fields": ["display_name", "phone"]})
        ]

    async def test_suspends_and_reactivates(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        url = f"/v1/parties/{party['id']}"
        suspended = await client.patch(url, json={"status": "suspended"}, headers=platform_headers)
        assert suspended.json()["status"] == "suspended"
        active = await client.patch(url, json={"status": "active"}, headers=platform_headers)
        assert active.json()["status"] == "active"
        assert (await audit_actions(sessions, party["id"]))[1:] == [
            ("party.updated", {"fields": ["status"], "status": "suspended"}),
            ("party.updated", {"fields": ["status"], "status": "active"}),
        ]

    async def test_a_change_to_the_same_values_writes_nothing(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        response = await client.patch(f"/v1/parties/{party['id']}", json={"country": "SN"}, headers=platform_headers)
        assert response.json() == party
        assert len(await audit_actions(sessions, party["id"])) == 1

    @pytest.mark.parametrize("field", ["display_name", "type", "country", "status"])
    async def test_refuses_null_for_required_fields(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        field: str,
    ) -> None:
        party = await create_party(client, platform_headers)
        response = await client.patch(f"/v1/parties/{party['id']}", json={field: None}, headers=platform_headers)
        assert response.status_code == 422
        after = await client.get(f"/v1/parties/{party['id']}", headers=platform_headers)
        assert after.json() == party

    async def test_unknown_party_is_404(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        response = await client.patch("/v1/parties/pty_nobody", json={"display_name": "X"}, headers=platform_headers)
        assert response.status_code == 404
        assert response.json()["code"] == "party_not_found"
        assert await party_count(sessions) == 0
        assert await audit_actions(sessions, "pty_nobody") == []


class TestPartyTokens:
    async def test_mints_a_verifiable_token_and_audits_it_without_the_token(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        settings: Settings,
        sessions: Sessions,
    ) -> None:
        party = await create_party(client, platform_headers)
        asked_at = clock.now().replace(microsecond=0)
        response = await client.post(
            f"/v1/parties/{party['id']}/tokens",
            json={"lifetime_seconds": 300},
            headers=platform_headers,
        )
        answered_at = clock.now()
        assert response.status_code == 201, response.text
        minted = response.json()
        assert minted["token_type"] == "Bearer"
        assert minted["party_id"] == party["id"]
        claims = party_tokens.verify(settings, token=minted["token"], now=clock.now())
        assert claims.party_id == party["id"]
        assert claims.token_id == minted["token_id"]
        assert claims.expires_at.isoformat().replace("+00:00", "Z") == minted["expires_at"]
        # Issued (to the second) while the request ran, for exactly 300 seconds.
        issued_at = claims.expires_at - timedelta(seconds=300)
        assert asked_at <= issued_at <= answered_at
        action, data = (await audit_actions(sessions, party["id"]))[1]
        assert action == "party_token.minted"
        assert data == {
            "token_id": minted["token_id"],
            "key_id": "k1",
            "expires_at": claims.expires_at.isoformat(),
        }

    async def test_refuses_a_lifetime_over_one_hour(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        response = await client.post(
            f"/v1/parties/{party['id']}/tokens",
            json={"lifetime_seconds": 3601},
            headers=platform_headers,
        )
        assert response.status_code == 422
        assert response.json()["code"] == "token_lifetime_too_long"
        assert len(await audit_actions(sessions, party["id"])) == 1

    async def test_unknown_party_gets_no_token(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        response = await client.post("/v1/parties/pty_nobody/tokens", json={}, headers=platform_headers)
        assert response.status_code == 404
        assert response.json()["code"] == "party_not_found"
        assert await audit_actions(sessions, "pty_nobody") == []


class TestPartyTokenAccess:
    async def test_reads_its_own_party(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        party = await create_party(client, platform_headers)
        headers = await party_headers(client, platform_headers, party["id"])
        response = await client.get(f"/v1/parties/{party['id']}", headers=headers)
        assert response.status_code == 200
        assert response.json() == party

    async def test_another_party_is_403(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        mine = await create_party(client, platform_headers)
        theirs = await create_party(client, platform_headers, display_name="Someone else")
        headers = await party_headers(client, platform_headers, mine["id"])
        response = await client.get(f"/v1/parties/{theirs['id']}", headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "not_owned_by_party"

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "/v1/parties", None),
            ("POST", "/v1/parties", {"display_name": "X", "type": "individual", "country": "SN"}),
            ("PATCH", "/v1/parties/{own}", {"status": "active"}),
            ("POST", "/v1/parties/{own}/tokens", {}),
            ("GET", "/v1/api-keys", None),
        ],
    )
    async def test_platform_routes_refuse_party_tokens_even_for_its_own_party(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        sessions: Sessions,
        method: str,
        path: str,
        body: dict[str, object] | None,
    ) -> None:
        party = await create_party(client, platform_headers)
        headers = await party_headers(client, platform_headers, party["id"])
        response = await client.request(method, path.format(own=party["id"]), json=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert await party_count(sessions) == 1

    async def test_an_expired_token_is_401(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], settings: Settings
    ) -> None:
        party = await create_party(client, platform_headers)
        old = party_tokens.mint(
            settings,
            party_id=party["id"],
            platform_id="plt_default",
            minted_by="key_any",
            lifetime_seconds=60,
            now=clock.now() - timedelta(seconds=61),
        )
        response = await client.get(f"/v1/parties/{party['id']}", headers={"Authorization": f"Bearer {old.token}"})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_party_token"
        assert response.json()["detail"] == "The party token has expired."

    async def test_a_tampered_token_is_401(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        mine = await create_party(client, platform_headers)
        theirs = await create_party(client, platform_headers, display_name="Someone else")
        headers = await party_headers(client, platform_headers, mine["id"])
        token = headers["Authorization"].removeprefix("Bearer ")
        header, _payload, signature = token.split(".")
        other = (await party_headers(client, platform_headers, theirs["id"]))["Authorization"]
        forged = f"{header}.{other.removeprefix('Bearer ').split('.')[1]}.{signature}"
        response = await client.get(f"/v1/parties/{theirs['id']}", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
