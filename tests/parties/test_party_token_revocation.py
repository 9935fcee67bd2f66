"""A party token is more than its signature: it dies with the API key that
minted it, with its party's suspension, and with a revocation of the party's
tokens; a token no honest minter makes (issued in the future, living too
long) is refused. Every refusal moves nothing and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth import party_tokens
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.core.config import Settings
from sika.core.context import Actor
from sika.parties import service as parties_service
from tests.conftest import TEST_ACTOR, make_key
from tests.support.factories import PartyWallet, funded_wallet, party_headers
from tests.support.ledger import Snapshot, snapshot
from tests.wallets.conftest import place_hold

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Footprint:
    """Everything a refused request must leave as it was."""

    ledger: Snapshot
    audit_events: int
    events: int
    holds: int


async def footprint(sessions: Sessions) -> Footprint:
    async with sessions() as session:
        counts = [
            int(await session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608 - fixed names
            for table in ("audit_events", "events", "wallet_open_holds")
        ]
    return Footprint(await snapshot(sessions), *counts)


@dataclass(frozen=True)
class Platform:
    key_id: str
    headers: dict[str, str]


async def platform_key(client: httpx.AsyncClient, admin_headers: dict[str, str], **body: Any) -> Platform:
    response = await client.post(
        "/v1/api-keys", json={"name": "platform", "scopes": ["platform"], **body}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    key = response.json()
    return Platform(key_id=key["id"], headers={"Authorization": f"Bearer {key['secret']}"})


@pytest.fixture
async def funded(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform_headers: dict[str, str]
) -> PartyWallet:
    return await funded_wallet(client, platform_headers, admin_headers, 10_000)


async def refused_hold(
    client: httpx.AsyncClient, sessions: Sessions, funded: PartyWallet, headers: dict[str, str], detail: str
) -> None:
    """The token may not hold money any more: 401 for ``detail``, nothing moved or written."""
    before = await footprint(sessions)
    response = await place_hold(client, headers, funded.wallet_id, 1000)
    assert response.status_code == 401, response.text
    assert (response.json()["code"], response.json()["detail"]) == ("invalid_party_token", detail)
    assert await footprint(sessions) == before


async def set_column(sessions: Sessions, table: str, column: str, row_id: str, value: object) -> None:
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),  # noqa: S608 - fixed names
            {"value": value, "id": row_id},
        )


class TestTheMintingKey:
    async def test_a_revoked_keys_tokens_are_refused(
        self, client: httpx.AsyncClient, sessions: Sessions, admin_headers: dict[str, str], funded: PartyWallet
    ) -> None:
        doomed = await platform_key(client, admin_headers)
        other = await platform_key(client, admin_headers)
        token = await party_headers(client, doomed.headers, funded.party_id)
        sibling = await party_headers(client, other.headers, funded.party_id)
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=token)).status_code == 200

        revoked = await client.delete(f"/v1/api-keys/{doomed.key_id}", headers=admin_headers)
        assert revoked.status_code == 200

        await refused_hold(
            client, sessions, funded, token, "The API key that minted this party token has been revoked."
        )
        # A token of another key is untouched.
        assert (await place_hold(client, sibling, funded.wallet_id, 1000)).status_code == 201

    async def test_an_expired_keys_tokens_are_refused(
        self, client: httpx.AsyncClient, sessions: Sessions, admin_headers: dict[str, str], funded: PartyWallet
    ) -> None:
        expiring = await platform_key(client, admin_headers, expires_at=(clock.now() + timedelta(hours=1)).isoformat())
        token = await party_headers(client, expiring.headers, funded.party_id)
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=token)).status_code == 200
        # The hour passes.
        await set_column(sessions, "auth_api_keys", "expires_at", expiring.key_id, clock.now() - timedelta(seconds=1))
        await refused_hold(client, sessions, funded, token, "The API key that minted this party token has expired.")

    async def test_a_token_naming_no_key_is_refused(
        self, client: httpx.AsyncClient, sessions: Sessions, settings: Settings, funded: PartyWallet
    ) -> None:
        minted = party_tokens.mint(
            settings,
            party_id=funded.party_id,
            platform_id="plt_default",
            minted_by="key_never_was",
            lifetime_seconds=600,
            now=clock.now(),
        )
        await refused_hold(
            client,
            sessions,
            funded,
            {"Authorization": f"Bearer {minted.token}"},
            "The API key that minted this party token has been revoked.",
        )


class TestSuspension:
    async def test_a_suspended_partys_tokens_are_refused_until_it_is_active_again(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: PartyWallet,
    ) -> None:
        token = await party_headers(client, platform_headers, funded.party_id)
        suspend = await client.patch(
            f"/v1/parties/{funded.party_id}", json={"status": "suspended"}, headers=platform_headers
        )
        assert suspend.status_code == 200

        before = await footprint(sessions)
        read = await client.get(f"/v1/parties/{funded.party_id}", headers=token)
        assert read.status_code == 401
        assert read.json()["detail"] == "The party is suspended: its tokens are refused."
        assert await footprint(sessions) == before
        await refused_hold(client, sessions, funded, token, "The party is suspended: its tokens are refused.")

        await client.patch(f"/v1/parties/{funded.party_id}", json={"status": "active"}, headers=platform_headers)
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=token)).status_code == 200

    async def test_no_token_is_minted_for_a_suspended_party(
        self, client: httpx.AsyncClient, sessions: Sessions, platform_headers: dict[str, str], funded: PartyWallet
    ) -> None:
        await client.patch(f"/v1/parties/{funded.party_id}", json={"status": "suspended"}, headers=platform_headers)
        before = await footprint(sessions)
        response = await client.post(f"/v1/parties/{funded.party_id}/tokens", json={}, headers=platform_headers)
        assert response.status_code == 409
        assert response.json()["code"] == "party_suspended_no_token"
        assert "token" not in response.json()
        assert await footprint(sessions) == before


class TestRevokeAll:
    async def test_old_tokens_are_refused_and_new_ones_work(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: PartyWallet,
    ) -> None:
        old = await party_headers(client, platform_headers, funded.party_id)
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=old)).status_code == 200

        asked_at = clock.now()
        response = await client.post(
            f"/v1/parties/{funded.party_id}/tokens/revoke",
            headers={**platform_headers, "Idempotency-Key": "revoke-1"},
        )
        assert response.status_code == 200, response.text
        party = response.json()
        assert party["id"] == funded.party_id
        assert asked_at.isoformat() <= party["tokens_revoked_before"].replace("Z", "+00:00") <= clock.now().isoformat()

        await refused_hold(client, sessions, funded, old, "The party token has been revoked.")
        # Minted right after, within the same second as likely as not: it works.
        new = await party_headers(client, platform_headers, funded.party_id)
        assert (await place_hold(client, new, funded.wallet_id, 1000)).status_code == 201

        async with sessions() as session:
            audited = (
                await session.execute(
                    sa.text(
                        "SELECT actor, data FROM audit_events WHERE action = 'party_tokens.revoked' AND entity_id = :id"
                    ),
                    {"id": funded.party_id},
                )
            ).all()
        assert len(audited) == 1
        assert audited[0].actor.startswith("key:")
        assert audited[0].data == {"revoked_before": party["tokens_revoked_before"].replace("Z", "+00:00")}

        replay = await client.post(
            f"/v1/parties/{funded.party_id}/tokens/revoke",
            headers={**platform_headers, "Idempotency-Key": "revoke-1"},
        )
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == party
        # The replay revoked nothing more: the token minted since still works.
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=new)).status_code == 200

    async def test_the_cut_is_to_the_millisecond(
        self, sessions: Sessions, settings: Settings, funded: PartyWallet
    ) -> None:
        """A token minted a few milliseconds after the revocation, in the same second, works;
        one minted a few milliseconds before is refused."""
        second = clock.now().replace(microsecond=0) - timedelta(seconds=5)
        revoked_at = second + timedelta(milliseconds=400)
        async with db.transaction(sessions) as session:
            key = (
                await auth_service.create_key(
                    session, name="p", scopes=[Scope.platform.value], expires_at=None, actor=TEST_ACTOR
                )
            ).key
            actor = Actor(id=f"key:{key.id}", scopes=frozenset({"platform"}))
            await parties_service.revoke_tokens(session, party_id=funded.party_id, actor=actor, now=revoked_at)

        async def standing(minted_at_ms: int) -> str:
            minted = party_tokens.mint(
                settings,
                party_id=funded.party_id,
                platform_id="plt_default",
                minted_by=key.id,
                lifetime_seconds=600,
                now=second + timedelta(milliseconds=minted_at_ms),
            )
            claims = party_tokens.verify(settings, token=minted.token, now=clock.now())
            async with sessions() as session:
                try:
                    await parties_service.check_token_standing(session, claims=claims, now=clock.now())
                except party_tokens.InvalidPartyToken as refused:
                    return refused.detail
            return "ok"

        assert await standing(398) == "The party token has been revoked."
        assert await standing(401) == "ok"
        assert await standing(999) == "ok"

    @pytest.mark.parametrize("scope", ["support", "read"])
    async def test_only_the_platform_revokes(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        platform_headers: dict[str, str],
        funded: PartyWallet,
        scope: str,
    ) -> None:
        token = await party_headers(client, platform_headers, funded.party_id)
        other = {"Authorization": f"Bearer {await make_key(sessions, Scope(scope))}"}
        before = await footprint(sessions)
        for headers in (other, token):
            response = await client.post(f"/v1/parties/{funded.party_id}/tokens/revoke", headers=headers)
            assert response.status_code == 403
            assert response.json()["code"] == "permission_denied"
        assert await footprint(sessions) == before
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=token)).status_code == 200

    async def test_an_unknown_party_is_404(
        self, client: httpx.AsyncClient, sessions: Sessions, platform_headers: dict[str, str]
    ) -> None:
        before = await footprint(sessions)
        response = await client.post("/v1/parties/pty_nobody/tokens/revoke", headers=platform_headers)
        assert response.status_code == 404
        assert response.json()["code"] == "party_not_found"
        assert await footprint(sessions) == before


class TestTokensNoMinterMakes:
    """Signed with the right key (leaked, or a minter's bug), yet refused by a running API."""

    @staticmethod
    def forge(settings: Settings, party_id: str, key_id: str, *, iat: float, exp: int) -> dict[str, str]:
        kid = settings.PARTY_TOKEN_ACTIVE_KID
        claims = {
            "iss": settings.PARTY_TOKEN_ISSUER,
            "aud": settings.PARTY_TOKEN_AUDIENCE,
            "sub": party_id,
            "iat": iat,
            "exp": exp,
            "jti": "forged",
            "minted_by": key_id,
        }
        secret = settings.PARTY_TOKEN_KEYS[kid].get_secret_value()
        return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256', headers={'kid': kid})}"}

    async def test_an_issue_time_in_the_future_is_refused(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        settings: Settings,
        admin_headers: dict[str, str],
        funded: PartyWallet,
    ) -> None:
        key = await platform_key(client, admin_headers)
        now = int(clock.now().timestamp())
        ahead = now + 3600
        token = self.forge(settings, funded.party_id, key.key_id, iat=ahead, exp=ahead + 60)
        await refused_hold(client, sessions, funded, token, "The party token claims to be issued in the future.")
        # Issued after a revocation that has not happened yet, it would have outlived it: not any more.
        honest = self.forge(settings, funded.party_id, key.key_id, iat=now, exp=now + 60)
        assert (await client.get(f"/v1/parties/{funded.party_id}", headers=honest)).status_code == 200

    async def test_ten_years_of_life_is_refused(
        self,
        client: httpx.AsyncClient,
        sessions: Sessions,
        settings: Settings,
        admin_headers: dict[str, str],
        funded: PartyWallet,
    ) -> None:
        key = await platform_key(client, admin_headers)
        now = int(clock.now().timestamp())
        token = self.forge(settings, funded.party_id, key.key_id, iat=now, exp=now + 10 * 365 * 24 * 3600)
        await refused_hold(
            client,
            sessions,
            funded,
            token,
            f"The party token lives longer than {settings.PARTY_TOKEN_MAX_SECONDS} seconds.",
        )
