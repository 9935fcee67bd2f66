"""Wallets over HTTP: opening, top-ups, and balances read from the ledger."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.audit.models import AuditEvent
from sika.ledger.models import Account
from sika.wallets.models import Wallet
from sika.wallets.service import funding_account_id
from tests.support.factories import Owner, create_party, top_up
from tests.support.ledger import snapshot
from tests.support.tasks import all_of
from tests.wallets.conftest import account_posted, transfer_count, wallet_state

Sessions = async_sessionmaker[AsyncSession]


async def wallet_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Wallet)) or 0)


class TestOpenWallet:
    async def test_opens_an_empty_wallet_on_two_protected_ledger_accounts(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        response = await client.post(
            f"/v1/parties/{party['id']}/wallets", json={"currency": "XOF"}, headers=platform_headers
        )
        assert response.status_code == 201, response.text
        wallet = response.json()
        assert wallet["id"].startswith("wal_")
        assert {k: wallet[k] for k in ("party_id", "currency", "balance_minor", "held_minor", "available_minor")} == {
            "party_id": party["id"],
            "currency": "XOF",
            "balance_minor": 0,
            "held_minor": 0,
            "available_minor": 0,
        }
        async with sessions() as session:
            row = await session.get(Wallet, wallet["id"])
            assert row is not None
            accounts = (
                await session.scalars(
                    sa.select(Account)
                    .where(Account.id.in_([row.account_id, row.holds_account_id]))
                    .order_by(Account.kind)
                )
            ).all()
            audited = await session.scalar(
                sa.select(AuditEvent.action).where(AuditEvent.entity_type == "wallet", AuditEvent.entity_id == row.id)
            )
        assert [(a.kind, a.currency, a.owner_type, a.owner_id, a.debits_must_not_exceed_credits) for a in accounts] == [
            ("wallet", "XOF", "party", party["id"], True),
            ("wallet.holds", "XOF", "party", party["id"], True),
        ]
        assert audited == "wallet.opened"

    async def test_one_wallet_per_party_and_currency_even_under_concurrent_requests(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        party = await create_party(client, platform_headers)
        responses = await all_of(
            *(
                client.post(f"/v1/parties/{party['id']}/wallets", json={"currency": "XOF"}, headers=platform_headers)
                for _ in range(5)
            )
        )
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"wallet_exists"}
        assert await wallet_count(sessions) == 1
        assert len((await snapshot(sessions)).totals) == 2  # the refused openings opened no ledger account
        other = await client.post(
            f"/v1/parties/{party['id']}/wallets", json={"currency": "EUR"}, headers=platform_headers
        )
        assert other.status_code == 201
        listed = await client.get(f"/v1/parties/{party['id']}/wallets", headers=platform_headers)
        assert [w["currency"] for w in listed.json()["data"]] == ["EUR", "XOF"], "newest first"

    @pytest.mark.parametrize(("currency", "code"), [("ABC", "unknown_currency"), ("xof", "validation_failed")])
    async def test_refuses_an_unknown_currency(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions, currency: str, code: str
    ) -> None:
        party = await create_party(client, platform_headers)
        response = await client.post(
            f"/v1/parties/{party['id']}/wallets", json={"currency": currency}, headers=platform_headers
        )
        assert response.status_code == 422
        assert response.json()["code"] == code
        assert await wallet_count(sessions) == 0
        assert (await snapshot(sessions)).totals == {}

    async def test_unknown_party_is_404(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], sessions: Sessions
    ) -> None:
        response = await client.post(
            "/v1/parties/pty_nobody/wallets", json={"currency": "XOF"}, headers=platform_headers
        )
        assert response.status_code == 404
        assert response.json()["code"] == "party_not_found"
        assert await wallet_count(sessions) == 0
        assert (await snapshot(sessions)).totals == {}

    async def test_unknown_wallet_is_404(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        response = await client.get("/v1/wallets/wal_nothing", headers=platform_headers)
        assert response.status_code == 404
        assert response.json()["code"] == "wallet_not_found"


class TestTopUp:
    async def test_credits_the_wallet_from_the_funding_account_and_audits_it(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], buyer: Owner, sessions: Sessions
    ) -> None:
        response = await client.post(
            f"/v1/wallets/{buyer.wallet_id}/top-ups",
            json={"amount_minor": 25000, "reference": "ops-1", "reason": "opening float"},
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
        done = response.json()
        assert {k: done[k] for k in ("amount_minor", "currency", "reference", "reason")} == {
            "amount_minor": 25000,
            "currency": "XOF",
            "reference": "ops-1",
            "reason": "opening float",
        }
        assert (done["wallet"]["balance_minor"], done["wallet"]["held_minor"], done["wallet"]["available_minor"]) == (
            25000,
            0,
            25000,
        )
        assert await account_posted(sessions, funding_account_id("XOF")) == -25000
        async with sessions() as session:
            data = await session.scalar(sa.select(AuditEvent.data).where(AuditEvent.action == "wallet.topped_up"))
        assert data == {"transfer_id": done["transfer_id"], "amount_minor": 25000, "reference": "ops-1"}

    async def test_takes_an_admin_key(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], buyer: Owner, sessions: Sessions
    ) -> None:
        for headers in (platform_headers, buyer.headers):
            response = await client.post(
                f"/v1/wallets/{buyer.wallet_id}/top-ups", json={"amount_minor": 100}, headers=headers
            )
            assert response.status_code == 403
        assert await wallet_state(client, platform_headers, buyer.wallet_id) == (0, 0, 0)
        assert await transfer_count(sessions) == 0

    @pytest.mark.parametrize("amount", [0, -5, 10.5, "100", None])
    async def test_refuses_amounts_that_are_not_positive_integers(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        buyer: Owner,
        sessions: Sessions,
        amount: object,
    ) -> None:
        response = await client.post(
            f"/v1/wallets/{buyer.wallet_id}/top-ups", json={"amount_minor": amount}, headers=admin_headers
        )
        assert response.status_code == 422
        assert await wallet_state(client, admin_headers, buyer.wallet_id) == (0, 0, 0)
        assert await transfer_count(sessions) == 0

    async def test_a_suspended_party_can_still_be_credited(
        self, client: httpx.AsyncClient, admin_headers: dict[str, str], platform_headers: dict[str, str], buyer: Owner
    ) -> None:
        await client.patch(f"/v1/parties/{buyer.party['id']}", json={"status": "suspended"}, headers=platform_headers)
        await top_up(client, admin_headers, buyer.wallet_id, 700)
        assert await wallet_state(client, platform_headers, buyer.wallet_id) == (700, 0, 700)
