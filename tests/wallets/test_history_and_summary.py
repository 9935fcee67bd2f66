"""Wallet history and the party's financial summary, both derived from the ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db
from sika.core.context import system_actor
from sika.ledger import service as ledger_service
from tests.support.factories import Owner, open_wallet, top_up
from tests.wallets.conftest import place_hold

Sessions = async_sessionmaker[AsyncSession]

ENTRY_FIELDS = (
    "type",
    "amount_minor",
    "balance_before_minor",
    "balance_after_minor",
    "held_before_minor",
    "held_after_minor",
    "reference",
    "reason",
)


def summarize(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(e[field] for field in ENTRY_FIELDS) for e in entries]


async def one_of_each(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    platform_headers: dict[str, str],
    sessions: Sessions,
    buyer: Owner,
    merchant: Owner,
) -> dict[str, str]:
    """A top-up, then a hold captured in part, a hold released and a hold expired."""
    await top_up(client, admin_headers, buyer.wallet_id, 10000, reference="tu-10000")
    captured = (await place_hold(client, platform_headers, buyer.wallet_id, 3000, reference="ord-1")).json()
    await client.post(
        f"/v1/holds/{captured['id']}/capture",
        json={"amount_minor": 2000, "destination_wallet_id": merchant.wallet_id, "platform_fee_minor": 100},
        headers=platform_headers,
    )
    released = (await place_hold(client, platform_headers, buyer.wallet_id, 500, reference="ord-2")).json()
    await client.post(f"/v1/holds/{released['id']}/release", headers=platform_headers)
    expired = (
        await place_hold(client, platform_headers, buyer.wallet_id, 700, reference="ord-3", expires_in_seconds=60)
    ).json()
    async with db.transaction(sessions) as session:
        await ledger_service.expire_pending(
            session, now=clock.now() + timedelta(seconds=61), actor=system_actor("ledger.expire_pending")
        )
    return {"captured": captured["id"], "released": released["id"], "expired": expired["id"]}


class TestHistory:
    async def test_one_entry_per_movement_with_balances_around_it(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        platform_headers: dict[str, str],
        sessions: Sessions,
        buyer: Owner,
        merchant: Owner,
    ) -> None:
        holds = await one_of_each(client, admin_headers, platform_headers, sessions, buyer, merchant)
        response = await client.get(f"/v1/wallets/{buyer.wallet_id}/history", headers=platform_headers)
        assert response.status_code == 200
        entries = response.json()["data"]
        assert summarize(entries) == [
            ("hold_expired", 700, 8000, 8000, 700, 0, "ord-3", "order"),
            ("hold_placed", 700, 8000, 8000, 0, 700, "ord-3", "order"),
            ("hold_released", 500, 8000, 8000, 500, 0, "ord-2", "order"),
            ("hold_placed", 500, 8000, 8000, 0, 500, "ord-2", "order"),
            ("hold_captured", 2000, 10000, 8000, 3000, 0, "ord-1", "order"),
            ("hold_placed", 3000, 10000, 10000, 0, 3000, "ord-1", "order"),
            ("credit", 10000, 0, 10000, 0, 0, "tu-10000", "top-up"),
        ]
        assert [e["hold_id"] for e in entries] == [
            holds["expired"],
            holds["expired"],
            holds["released"],
            holds["released"],
            holds["captured"],
            holds["captured"],
            None,
        ]
        assert response.json()["next_cursor"] is None
        merchant_history = (
            await client.get(f"/v1/wallets/{merchant.wallet_id}/history", headers=platform_headers)
        ).json()
        assert summarize(merchant_history["data"]) == [("credit", 1900, 0, 1900, 0, 0, "ord-1", "order")]

    async def test_pages_follow_each_other(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        platform_headers: dict[str, str],
        sessions: Sessions,
        buyer: Owner,
        merchant: Owner,
    ) -> None:
        await one_of_each(client, admin_headers, platform_headers, sessions, buyer, merchant)
        url = f"/v1/wallets/{buyer.wallet_id}/history"
        whole = (await client.get(url, headers=platform_headers)).json()["data"]
        pages: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = (
                await client.get(
                    url, params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=platform_headers
                )
            ).json()
            pages.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == whole
        assert len(whole) == 7

    async def test_a_new_wallet_has_no_history(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], buyer: Owner
    ) -> None:
        response = await client.get(f"/v1/wallets/{buyer.wallet_id}/history", headers=platform_headers)
        assert response.json() == {"data": [], "next_cursor": None}


class TestSummary:
    async def test_zero_everywhere_for_a_new_wallet(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], buyer: Owner
    ) -> None:
        response = await client.get(f"/v1/parties/{buyer.party['id']}/summary", headers=platform_headers)
        assert response.status_code == 200
        summary = response.json()
        month_start = clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        assert summary["month_start"] == month_start.isoformat().replace("+00:00", "Z")
        assert summary["month"] == month_start.strftime("%Y-%m")
        assert summary["currencies"] == [
            {
                "currency": "XOF",
                "balance_minor": 0,
                "held_minor": 0,
                "available_minor": 0,
                "escrow_pending_minor": 0,
                "next_release_at": None,
                "received_this_month_minor": 0,
                "released_this_month_minor": 0,
                "paid_out_this_month_minor": 0,
                "fees_paid_this_month_minor": 0,
            }
        ]

    async def test_figures_follow_the_ledger(
        self,
        client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        platform_headers: dict[str, str],
        sessions: Sessions,
        buyer: Owner,
        merchant: Owner,
    ) -> None:
        await one_of_each(client, admin_headers, platform_headers, sessions, buyer, merchant)
        await place_hold(client, platform_headers, buyer.wallet_id, 1000)
        await open_wallet(client, platform_headers, buyer.party["id"], "EUR")
        buyer_summary = (await client.get(f"/v1/parties/{buyer.party['id']}/summary", headers=platform_headers)).json()
        assert buyer_summary["currencies"] == [
            {
                "currency": "EUR",
                "balance_minor": 0,
                "held_minor": 0,
                "available_minor": 0,
                "escrow_pending_minor": 0,
                "next_release_at": None,
                "received_this_month_minor": 0,
                "released_this_month_minor": 0,
                "paid_out_this_month_minor": 0,
                "fees_paid_this_month_minor": 0,
            },
            {
                "currency": "XOF",
                "balance_minor": 8000,
                "held_minor": 1000,
                "available_minor": 7000,
                "escrow_pending_minor": 0,
                "next_release_at": None,
                "received_this_month_minor": 10000,
                "released_this_month_minor": 0,
                # A capture to another wallet is a debit, not a payout.
                "paid_out_this_month_minor": 0,
                "fees_paid_this_month_minor": 100,
            },
        ]
        merchant_summary = (
            await client.get(f"/v1/parties/{merchant.party['id']}/summary", headers=merchant.headers)
        ).json()
        assert [
            (c["currency"], c["balance_minor"], c["received_this_month_minor"], c["paid_out_this_month_minor"])
            for c in merchant_summary["currencies"]
        ] == [("XOF", 1900, 1900, 0)]

    async def test_unknown_party_is_404(self, client: httpx.AsyncClient, platform_headers: dict[str, str]) -> None:
        response = await client.get("/v1/parties/pty_nobody/summary", headers=platform_headers)
        assert response.status_code == 404
