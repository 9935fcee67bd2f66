"""Holds over HTTP: place, capture in full or in part, release, expire; each
answer carries the wallet's balances after it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.core import clock, db
from sika.core.config import Settings
from sika.jobs import app as jobs_app
from sika.wallets.service import fee_account_id
from tests.support.factories import Owner, open_wallet
from tests.support.ledger import snapshot
from tests.wallets.conftest import account_posted, place_hold, transfer_count, wallet_state

Sessions = async_sessionmaker[AsyncSession]
JOB_WAIT_SECONDS = 90
"""For a worker to start and run the job: seconds here, far longer on a loaded machine."""


def balances(answer: dict[str, Any]) -> tuple[int, int, int]:
    wallet = answer["wallet"]
    return wallet["balance_minor"], wallet["held_minor"], wallet["available_minor"]


class TestPlaceHold:
    async def test_reserves_money_and_answers_with_the_wallet_after(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner
    ) -> None:
        response = await place_hold(
            client,
            platform_headers,
            funded.wallet_id,
            3000,
            reason="basket 12",
            reference="ord-12",
            expires_in_seconds=600,
        )
        assert response.status_code == 201, response.text
        hold = response.json()
        assert hold["id"].startswith("hold_")
        assert {
            k: hold[k]
            for k in (
                "wallet_id",
                "currency",
                "amount_minor",
                "status",
                "captured_minor",
                "reason",
                "reference",
                "resolved_at",
            )
        } == {
            "wallet_id": funded.wallet_id,
            "currency": "XOF",
            "amount_minor": 3000,
            "status": "open",
            "captured_minor": 0,
            "reason": "basket 12",
            "reference": "ord-12",
            "resolved_at": None,
        }
        assert balances(hold) == (10000, 3000, 7000)
        assert hold["expires_at"] is not None
        fetched = await client.get(f"/v1/holds/{hold['id']}", headers=platform_headers)
        assert fetched.json() == hold

    async def test_refuses_more_than_is_available_and_changes_nothing(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
    ) -> None:
        assert (await place_hold(client, platform_headers, funded.wallet_id, 6000)).status_code == 201
        before = await transfer_count(sessions)
        response = await place_hold(client, platform_headers, funded.wallet_id, 4001)
        assert response.status_code == 409
        assert response.json()["code"] == "insufficient_funds"
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 6000, 4000)
        assert await transfer_count(sessions) == before

    async def test_a_party_places_a_hold_on_its_own_wallet(self, client: httpx.AsyncClient, funded: Owner) -> None:
        response = await place_hold(client, funded.headers, funded.wallet_id, 500)
        assert response.status_code == 201
        assert balances(response.json()) == (10000, 500, 9500)

    async def test_idempotency_key_places_one_hold(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
    ) -> None:
        headers = {**platform_headers, "Idempotency-Key": "basket-77"}
        first = await place_hold(client, headers, funded.wallet_id, 1200)
        again = await place_hold(client, headers, funded.wallet_id, 1200)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        before = await snapshot(sessions)
        other_body = await place_hold(client, headers, funded.wallet_id, 1300)
        assert other_body.status_code == 422
        assert other_body.json()["code"] == "idempotency_key_reused"
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 1200, 8800)

    async def test_a_suspended_party_cannot_place_a_hold(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
    ) -> None:
        await client.patch(f"/v1/parties/{funded.party['id']}", json={"status": "suspended"}, headers=platform_headers)
        before = await transfer_count(sessions)
        response = await place_hold(client, platform_headers, funded.wallet_id, 100)
        assert response.status_code == 409
        assert response.json()["code"] == "party_suspended"
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 0, 10000)
        assert await transfer_count(sessions) == before

    async def test_lists_holds_newest_first_in_pages(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner
    ) -> None:
        ids = [
            (await place_hold(client, platform_headers, funded.wallet_id, amount)).json()["id"] for amount in (1, 2, 3)
        ]
        await client.post(f"/v1/holds/{ids[0]}/release", headers=platform_headers)
        first = (await client.get(f"/v1/wallets/{funded.wallet_id}/holds?limit=2", headers=platform_headers)).json()
        assert [h["id"] for h in first["data"]] == [ids[2], ids[1]]
        second = (
            await client.get(
                f"/v1/wallets/{funded.wallet_id}/holds?limit=2&cursor={first['next_cursor']}", headers=platform_headers
            )
        ).json()
        assert [(h["id"], h["status"]) for h in second["data"]] == [(ids[0], "released")]
        assert second["next_cursor"] is None

    async def test_unknown_hold_is_404(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
    ) -> None:
        before = await snapshot(sessions)
        for response in (
            await client.get("/v1/holds/hold_nothing", headers=platform_headers),
            await client.post("/v1/holds/hold_nothing/capture", json={}, headers=platform_headers),
            await client.post("/v1/holds/hold_nothing/release", headers=platform_headers),
        ):
            assert response.status_code == 404
            assert response.json()["code"] == "hold_not_found"
        assert await snapshot(sessions) == before


class TestCapture:
    async def test_full_capture_pays_the_merchant_less_the_platform_fee(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        sessions: Sessions,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 4000)).json()
        response = await client.post(
            f"/v1/holds/{hold['id']}/capture",
            json={"destination_wallet_id": merchant.wallet_id, "platform_fee_minor": 150},
            headers=platform_headers,
        )
        assert response.status_code == 200, response.text
        captured = response.json()
        assert (captured["status"], captured["captured_minor"]) == ("captured", 4000)
        assert captured["resolved_at"] is not None
        assert balances(captured) == (6000, 0, 6000)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (3850, 0, 3850)
        assert await account_posted(sessions, fee_account_id("plt_default", "XOF")) == 150

    async def test_partial_capture_returns_the_rest(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, merchant: Owner
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 4000)).json()
        response = await client.post(
            f"/v1/holds/{hold['id']}/capture",
            json={"amount_minor": 2500, "destination_wallet_id": merchant.wallet_id},
            headers=platform_headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["captured_minor"]) == ("captured", 2500)
        assert balances(response.json()) == (7500, 0, 7500)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (2500, 0, 2500)

    async def test_without_a_destination_all_goes_to_the_platform(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 300)).json()
        response = await client.post(f"/v1/holds/{hold['id']}/capture", json={}, headers=platform_headers)
        assert response.status_code == 200, response.text
        assert balances(response.json()) == (9700, 0, 9700)
        assert await account_posted(sessions, fee_account_id("plt_default", "XOF")) == 300

    async def test_a_party_captures_its_own_hold(
        self, client: httpx.AsyncClient, funded: Owner, merchant: Owner
    ) -> None:
        hold = (await place_hold(client, funded.headers, funded.wallet_id, 800)).json()
        response = await client.post(
            f"/v1/holds/{hold['id']}/capture",
            json={"destination_wallet_id": merchant.wallet_id},
            headers=funded.headers,
        )
        assert response.status_code == 200, response.text
        assert balances(response.json()) == (9200, 0, 9200)

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"amount_minor": 1001, "destination_wallet_id": "{merchant}"}, 422, "amount_exceeds_pending"),
            ({"destination_wallet_id": "{merchant}", "platform_fee_minor": 1001}, 422, "invalid_capture"),
            ({"platform_fee_minor": 10}, 422, "invalid_capture"),
            ({"destination_wallet_id": "{own}"}, 422, "invalid_capture"),
            ({"destination_wallet_id": "{euro}"}, 422, "currency_mismatch"),
            ({"destination_wallet_id": "wal_nothing"}, 404, "wallet_not_found"),
            ({"amount_minor": 0}, 422, "validation_failed"),
        ],
    )
    async def test_refusals_change_nothing(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        sessions: Sessions,
        body: dict[str, Any],
        status: int,
        code: str,
    ) -> None:
        euro = await open_wallet(client, platform_headers, merchant.party["id"], "EUR")
        names = {"{merchant}": merchant.wallet_id, "{own}": funded.wallet_id, "{euro}": euro["id"]}
        body = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 1000)).json()
        before = await transfer_count(sessions)
        response = await client.post(f"/v1/holds/{hold['id']}/capture", json=body, headers=platform_headers)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 1000, 9000)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (0, 0, 0)
        assert await transfer_count(sessions) == before
        assert (await client.get(f"/v1/holds/{hold['id']}", headers=platform_headers)).json()["status"] == "open"

    async def test_a_hold_is_captured_once(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        sessions: Sessions,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 1000)).json()
        body = {"destination_wallet_id": merchant.wallet_id}
        assert (
            await client.post(f"/v1/holds/{hold['id']}/capture", json=body, headers=platform_headers)
        ).status_code == 200
        before = await snapshot(sessions)
        again = await client.post(f"/v1/holds/{hold['id']}/capture", json=body, headers=platform_headers)
        assert again.status_code == 409
        assert again.json()["code"] == "pending_transfer_already_resolved"
        released = await client.post(f"/v1/holds/{hold['id']}/release", headers=platform_headers)
        assert released.status_code == 409
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (9000, 0, 9000)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (1000, 0, 1000)

    async def test_a_suspended_party_cannot_capture_but_its_holds_can_be_released(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        funded: Owner,
        merchant: Owner,
        sessions: Sessions,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 1000)).json()
        await client.patch(f"/v1/parties/{funded.party['id']}", json={"status": "suspended"}, headers=platform_headers)
        before = await snapshot(sessions)
        response = await client.post(
            f"/v1/holds/{hold['id']}/capture",
            json={"destination_wallet_id": merchant.wallet_id},
            headers=platform_headers,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "party_suspended"
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 1000, 9000)
        assert await wallet_state(client, platform_headers, merchant.wallet_id) == (0, 0, 0)
        released = await client.post(f"/v1/holds/{hold['id']}/release", headers=platform_headers)
        assert released.status_code == 200
        assert balances(released.json()) == (10000, 0, 10000)


class TestReleaseAndExpiry:
    async def test_release_returns_the_whole_hold(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 2500)).json()
        response = await client.post(f"/v1/holds/{hold['id']}/release", headers=platform_headers)
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["captured_minor"]) == ("released", 0)
        assert balances(response.json()) == (10000, 0, 10000)

    async def test_the_expiry_job_expires_a_hold_past_its_time(
        self,
        client: httpx.AsyncClient,
        platform_headers: dict[str, str],
        funded: Owner,
        sessions: Sessions,
        settings: Settings,
        database_url: str,
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 2500, expires_in_seconds=1)).json()
        kept = (await place_hold(client, platform_headers, funded.wallet_id, 100, expires_in_seconds=600)).json()
        await asyncio.sleep(seconds_until(hold["expires_at"]) + 0.05)
        async with db.transaction(sessions) as session:
            job_id = await jobs_app.defer(session, "ledger.expire_pending", timestamp=0)
        task = asyncio.create_task(
            jobs_worker.run_worker(settings, database_url=database_url, concurrency=1, install_signal_handlers=False)
        )
        try:
            deadline = time.monotonic() + JOB_WAIT_SECONDS
            status = await job_status(sessions, job_id)
            while status not in {"succeeded", "failed"} and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                status = await job_status(sessions, job_id)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert await job_status(sessions, job_id) == "succeeded"
        fetched = (await client.get(f"/v1/holds/{hold['id']}", headers=platform_headers)).json()
        assert fetched["status"] == "expired"
        assert balances(fetched) == (10000, 100, 9900)
        assert (await client.get(f"/v1/holds/{kept['id']}", headers=platform_headers)).json()["status"] == "open"
        before = await snapshot(sessions)
        too_late = await client.post(f"/v1/holds/{hold['id']}/capture", json={}, headers=platform_headers)
        assert too_late.status_code == 409
        assert too_late.json()["code"] == "pending_transfer_already_resolved"
        assert await snapshot(sessions) == before

    async def test_a_hold_past_its_time_cannot_be_captured_before_the_job_runs(
        self, client: httpx.AsyncClient, platform_headers: dict[str, str], funded: Owner, sessions: Sessions
    ) -> None:
        hold = (await place_hold(client, platform_headers, funded.wallet_id, 2500, expires_in_seconds=1)).json()
        await asyncio.sleep(seconds_until(hold["expires_at"]) + 0.05)
        before = await snapshot(sessions)
        response = await client.post(f"/v1/holds/{hold['id']}/capture", json={}, headers=platform_headers)
        assert response.status_code == 409
        assert response.json()["code"] == "pending_transfer_expired"
        assert await snapshot(sessions) == before
        assert await wallet_state(client, platform_headers, funded.wallet_id) == (10000, 0, 10000)


def seconds_until(iso_time: str) -> float:
    return max(0.0, (datetime.fromisoformat(iso_time) - clock.now()).total_seconds())


async def job_status(sessions: Sessions, job_id: int) -> str | None:
    async with sessions() as session:
        status = await session.scalar(sa.text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id})
        return None if status is None else str(status)
