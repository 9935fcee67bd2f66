"""A party's summary over months, from real money movements: an escrow funded,
a milestone approved in September and the other released by the minute job in
October, payouts through the sandbox in each month, and a capture that is a
debit but no payout. The clock is moved the way the other tests move it
(``clock.now`` patched), so every movement is stamped in its month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sika.core import clock, db
from sika.core.context import system_actor
from sika.escrow import service as escrow_service
from sika.escrow import tasks as escrow_tasks
from tests.escrow.conftest import Cast, act, funded
from tests.support.payments import World, assert_ledger_clean, deliver, payout_body

SEPTEMBER = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
DELAY_SECONDS = 172_800
FEE = 500
"""Split 300 / 200 over the milestones of 6,000 and 4,000."""
JOB = system_actor(escrow_tasks.SETTLE_TASK)


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


async def summary(world: World, cast: Cast, **params: str) -> dict[str, Any]:
    response = await world.client.get(
        f"/v1/parties/{cast.beneficiary.party_id}/summary", params=params, headers=cast.platform
    )
    assert response.status_code == 200, response.text
    (xof,) = response.json()["currencies"]
    assert isinstance(xof, dict)
    return {"month": response.json()["month"], **xof}


async def pay_out(world: World, cast: Cast, amount_minor: int, *, nth: int) -> None:
    """The talent's ``nth`` payout, which the sandbox pays and whose webhook Sika then processes."""
    response = await world.pay_out(payout_body(cast.beneficiary, amount_minor=amount_minor))
    assert response.status_code == 201, response.text
    webhook = (await world.sandbox.receiver.wait_for(nth))[nth - 1]
    assert (await deliver(world.client, webhook)).status_code == 200
    await world.run_jobs()
    assert (await world.shown("payouts", response.json()["id"]))["status"] == "succeeded"


async def capture_to_other(world: World, cast: Cast, amount_minor: int) -> None:
    """The talent pays the third party through a hold: a debit of its wallet, not a payout."""
    hold = await world.client.post(
        f"/v1/wallets/{cast.beneficiary.wallet_id}/holds",
        json={"amount_minor": amount_minor, "reason": "order"},
        headers=cast.platform,
    )
    assert hold.status_code == 201, hold.text
    capture = await world.client.post(
        f"/v1/holds/{hold.json()['id']}/capture",
        json={"destination_wallet_id": cast.other.wallet_id, "platform_fee_minor": 50},
        headers=cast.platform,
    )
    assert capture.status_code == 200, capture.text


async def test_each_month_shows_its_own_releases_payouts_and_fees(
    world: World, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, SEPTEMBER)
    escrow = await funded(world.client, cast, platform_fee_minor=FEE, release_after_delivery_seconds=DELAY_SECONDS)
    # The platform takes each party's step: the parties' tokens were minted at the real time.
    for path in ("milestones/1/deliver", "milestones/1/approve", "milestones/2/deliver"):
        assert (await act(world.client, escrow, path, cast.platform)).status_code == 200
    await pay_out(world, cast, 2_000, nth=1)
    await capture_to_other(world, cast, 1_000)
    september = {
        "month": "2026-09",
        "currency": "XOF",
        "balance_minor": 5_700 - 2_000 - 1_000,
        "held_minor": 0,
        "available_minor": 2_700,
        "escrow_pending_minor": 4_000,
        "next_release_at": (SEPTEMBER + timedelta(seconds=DELAY_SECONDS)).isoformat().replace("+00:00", "Z"),
        "received_this_month_minor": 5_700,
        "released_this_month_minor": 5_700,
        "paid_out_this_month_minor": 2_000,
        "fees_paid_this_month_minor": 300 + 50,
    }
    assert await summary(world, cast) == september

    at(monkeypatch, OCTOBER)
    async with db.transaction(world.sessions) as session:
        settled = await escrow_service.settle_due(session, now=clock.now(), actor=JOB)
    assert settled.released == 1
    await pay_out(world, cast, 1_000, nth=2)
    october = {
        **september,
        "month": "2026-10",
        "balance_minor": 2_700 + 3_800 - 1_000,
        "available_minor": 5_500,
        "escrow_pending_minor": 0,
        "next_release_at": None,
        "received_this_month_minor": 3_800,
        "released_this_month_minor": 3_800,
        "paid_out_this_month_minor": 1_000,
        "fees_paid_this_month_minor": 200,
    }
    assert await summary(world, cast) == october
    assert await summary(world, cast, month="2026-10") == october
    # September's flows stay September's; the money in the wallet and the escrows is as it is now.
    now = {key: october[key] for key in ("balance_minor", "available_minor", "escrow_pending_minor", "next_release_at")}
    assert await summary(world, cast, month="2026-09") == {**september, **now}
    quiet = await summary(world, cast, month="2025-12")
    assert [quiet[key] for key in ("released_this_month_minor", "paid_out_this_month_minor")] == [0, 0]
    await assert_ledger_clean(world.sessions)


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-9", "26-09", "2026-09-01", "september", "0000-01"])
async def test_a_month_not_written_yyyy_mm_is_422(world: World, cast: Cast, month: str) -> None:
    response = await world.client.get(
        f"/v1/parties/{cast.beneficiary.party_id}/summary", params={"month": month}, headers=cast.platform
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_failed"
    assert [error["field"] for error in response.json()["errors"]] == ["query.month"]


async def test_the_client_of_an_escrow_has_nothing_pending_from_it(world: World, cast: Cast) -> None:
    await funded(world.client, cast)
    response = await world.client.get(f"/v1/parties/{cast.client.party_id}/summary", headers=cast.platform)
    (xof,) = response.json()["currencies"]
    assert (xof["escrow_pending_minor"], xof["next_release_at"]) == (0, None)


async def test_a_party_token_reads_its_own_summary_only(world: World, cast: Cast) -> None:
    own = await world.client.get(
        f"/v1/parties/{cast.beneficiary.party_id}/summary",
        params={"month": "2026-01"},
        headers=cast.beneficiary.headers,
    )
    assert (own.status_code, own.json()["month"]) == (200, "2026-01"), own.text
    other = await world.client.get(
        f"/v1/parties/{cast.client.party_id}/summary", params={"month": "2026-01"}, headers=cast.beneficiary.headers
    )
    assert other.status_code == 403, other.text
