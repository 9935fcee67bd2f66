"""100 purchases at once against a real server with several worker
processes, from one wallet whose balance covers exactly N of them."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.ledger import service as ledger_service
from sika.wallets.service import fee_account_id
from tests.conftest import make_key
from tests.support import idempotency as idempotency_hooks
from tests.support.factories import funded_wallet, party_headers, party_with_wallet
from tests.support.reads import sika_check
from tests.support.server import live_api
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]

PURCHASES = 100
COVERED = 37
PRICE_MINOR = 700
FEE_MINOR = 35
WORKERS = 3
REQUEST_TIMEOUT_SECONDS = 60.0


async def purchase(
    api: httpx.AsyncClient, headers: dict[str, str], wallet_id: str, merchant_wallet_id: str, n: int
) -> tuple[str, dict[str, Any]]:
    """Place a hold, then capture it to the merchant; each step with its own Idempotency-Key."""
    placed = await api.post(
        f"/v1/wallets/{wallet_id}/holds",
        json={"amount_minor": PRICE_MINOR, "reason": "purchase", "reference": f"order-{n}"},
        headers={**headers, "Idempotency-Key": f"hold-{n}"},
    )
    if placed.status_code != 201:
        return "refused", placed.json()
    captured = await api.post(
        f"/v1/holds/{placed.json()['id']}/capture",
        json={"destination_wallet_id": merchant_wallet_id, "platform_fee_minor": FEE_MINOR},
        headers={**headers, "Idempotency-Key": f"capture-{n}"},
    )
    assert captured.status_code == 200, captured.text
    return "bought", captured.json()


async def history(api: httpx.AsyncClient, headers: dict[str, str], wallet_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"/v1/wallets/{wallet_id}/history", params=params, headers=headers)).json()
        entries.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


@pytest.mark.slow
async def test_exactly_the_covered_purchases_succeed_and_sika_check_is_clean(
    database_url: str, sessions: Sessions
) -> None:
    admin = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    platform = {"Authorization": f"Bearer {await make_key(sessions, Scope.platform)}"}
    with live_api(database_url, workers=WORKERS) as base_url:
        limits = httpx.Limits(max_connections=PURCHASES, max_keepalive_connections=PURCHASES)
        async with httpx.AsyncClient(
            base_url=base_url,
            timeout=REQUEST_TIMEOUT_SECONDS,
            limits=limits,
            event_hooks=idempotency_hooks.HOOKS,
        ) as api:
            buyer = await funded_wallet(api, platform, admin, COVERED * PRICE_MINOR, display_name="Buyer")
            shop = await party_with_wallet(api, platform, display_name="Shop", type="business")
            as_buyer = await party_headers(api, platform, buyer.party_id)

            started = time.perf_counter()
            # The platform places and captures: a party token sets no fee, and the hold guarantees the shop.
            outcomes = await all_of(
                *(purchase(api, platform, buyer.wallet_id, shop.wallet_id, n) for n in range(PURCHASES))
            )
            elapsed = time.perf_counter() - started

            bought = [answer for outcome, answer in outcomes if outcome == "bought"]
            refused = [answer for outcome, answer in outcomes if outcome == "refused"]
            assert len(bought) == COVERED
            assert len(refused) == PURCHASES - COVERED
            assert {answer["code"] for answer in refused} == {"insufficient_funds"}
            assert all(answer["status"] == "captured" and answer["captured_minor"] == PRICE_MINOR for answer in bought)

            final = (await api.get(f"/v1/wallets/{buyer.wallet_id}", headers=as_buyer)).json()
            assert (final["balance_minor"], final["held_minor"], final["available_minor"]) == (0, 0, 0)
            shop_final = (await api.get(f"/v1/wallets/{shop.wallet_id}", headers=platform)).json()
            assert shop_final["balance_minor"] == COVERED * (PRICE_MINOR - FEE_MINOR)

            entries = await history(api, as_buyer, buyer.wallet_id)
            assert sorted(e["type"] for e in entries) == sorted(
                ["credit"] + ["hold_placed"] * COVERED + ["hold_captured"] * COVERED
            )
            # Each entry starts where the one before it (older, further down) ended.
            for newer, older in itertools.pairwise(entries):
                assert newer["balance_before_minor"] == older["balance_after_minor"]
                assert newer["held_before_minor"] == older["held_after_minor"]
            assert (entries[0]["balance_after_minor"], entries[0]["held_after_minor"]) == (0, 0)
            assert len(await history(api, platform, shop.wallet_id)) == COVERED

    async with sessions() as session:
        fees = await ledger_service.get_balance(session, account_id=fee_account_id("plt_default", "XOF"))
    assert fees.posted_minor == COVERED * FEE_MINOR
    checked = await asyncio.to_thread(sika_check, database_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "The ledger's invariants hold." in checked.stdout
    print(f"\n{PURCHASES} purchases through {WORKERS} API processes in {elapsed:.2f} s")
