"""An escrow with ``auto_payout``: each release (an approval, the minute job, an
operator's split) is followed by exactly one payout of what it put in the
beneficiary's wallet to the beneficiary's mobile money, through the payments
flow against the sandbox over HTTP; the escrow's events say where the money
went. Without it, released money stays in the wallet and the events say so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from sika.core import clock, db
from sika.escrow import service as escrow_service
from sika.escrow import tasks as escrow_tasks
from sika.jobs import app as jobs_app
from tests.escrow.conftest import Cast, act, create, funded, scalar
from tests.support.factories import owner
from tests.support.payment_fixtures import client, settings, world
from tests.support.payments import SUCCESS_PHONE, World, assert_ledger_clean, run_jobs
from tests.support.sandbox import live, sandbox

__all__ = ["client", "live", "sandbox", "settings", "world"]

TO = {"operator": "mtn", "phone": SUCCESS_PHONE, "country": "CI"}
FEE = 1_000
"""On 6,000 + 4,000: 600 and 400."""
PAYOUT_JOBS = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'escrow.auto_payout'"


async def run_escrow_jobs(world: World) -> None:
    await run_jobs(world.database_url, world.settings, queues=["escrow"])


async def payouts_of(world: World, party_id: str) -> list[dict[str, Any]]:
    response = await world.client.get("/v1/payouts", params={"party_id": party_id}, headers=world.platform)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def event_data(world: World, escrow_id: str, type: str) -> list[dict[str, Any]]:
    response = await world.client.get(
        "/v1/events", params={"entity_id": escrow_id, "type": type}, headers=world.platform
    )
    assert response.status_code == 200, response.text
    return [event["data"] for event in response.json()["data"]]


async def shown(world: World, escrow_id: str) -> dict[str, Any]:
    response = await world.client.get(f"/v1/escrows/{escrow_id}", headers=world.platform)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_each_release_is_paid_out_once_to_the_beneficiarys_mobile_money(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    escrow = await funded(client, cast, platform_fee_minor=FEE, auto_payout=TO, release_after_delivery_seconds=60)
    assert escrow["auto_payout"] == TO
    await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    approved = (await act(client, escrow, "milestones/1/approve", cast.client.headers)).json()
    assert approved["milestones"][0]["payout_state"] == "due"
    assert await scalar(world.sessions, PAYOUT_JOBS) == 1
    assert await world.wallet(cast.beneficiary) == (5_400, 0)

    await run_escrow_jobs(world)
    first = (await shown(world, escrow["id"]))["milestones"][0]
    assert first["payout_state"] == "started"
    payout = await world.shown("payouts", first["payout_id"])
    assert (payout["status"], payout["amount_minor"], payout["phone"], payout["operator"]) == (
        "processing",
        5_400,
        SUCCESS_PHONE,
        "mtn",
    )
    assert payout["wallet_id"] == cast.beneficiary.wallet_id
    assert await world.wallet(cast.beneficiary) == (5_400, 5_400)
    await world.deliver(1)
    await world.run_jobs()
    assert (await world.shown("payouts", first["payout_id"]))["status"] == "succeeded"
    assert await world.wallet(cast.beneficiary) == (0, 0)
    world.sandbox.receiver.clear()

    # The second milestone is released by the minute job, and paid out the same way.
    await act(client, escrow, "milestones/2/deliver", cast.beneficiary.headers)
    async with db.transaction(world.sessions) as session:
        settled = await escrow_service.settle_due(
            session, now=clock.now() + timedelta(seconds=61), actor=escrow_tasks.ACTOR
        )
    assert settled.released == 1
    await run_escrow_jobs(world)
    await world.deliver(1)
    await world.run_jobs()
    # A job run again (a retried worker's) starts nothing more.
    async with db.transaction(world.sessions) as session:
        await jobs_app.defer(session, escrow_service.AUTO_PAYOUT_TASK, escrow_id=escrow["id"], number=1)
    await run_escrow_jobs(world)

    payouts = await payouts_of(world, cast.beneficiary.party_id)
    assert sorted((p["amount_minor"], p["status"]) for p in payouts) == [(3_600, "succeeded"), (5_400, "succeeded")]
    at_paystack = await world.sandbox.listed("payouts")
    assert sorted(p["reference"] for p in at_paystack) == sorted(p["id"] for p in payouts)
    assert sorted(p["amount"] for p in at_paystack) == [360_000, 540_000]  # Paystack counts XOF in hundredths
    assert await world.wallet(cast.beneficiary) == (0, 0)
    final = await shown(world, escrow["id"])
    assert final["status"] == "completed"
    assert {m["payout_id"] for m in final["milestones"]} == {p["id"] for p in payouts}
    released = await event_data(world, escrow["id"], "escrow.milestone_released")
    assert [e["released_to"] for e in released] == ["mobile_money", "mobile_money"]
    started = await event_data(world, escrow["id"], "escrow.auto_payout_started")
    assert sorted((e["number"], e["amount_minor"]) for e in started) == [(1, 5_400), (2, 3_600)]
    completed = await event_data(world, escrow["id"], "escrow.completed")
    assert [e["released_to"] for e in completed] == ["mobile_money"]
    await assert_ledger_clean(world.sessions)


async def test_without_auto_payout_the_money_stays_in_the_wallet(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    escrow = await funded(client, cast, 5_000)
    assert escrow["auto_payout"] is None
    await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    approved = (await act(client, escrow, "milestones/1/approve", cast.client.headers)).json()
    assert (approved["status"], approved["milestones"][0]["payout_state"]) == ("completed", None)
    await run_escrow_jobs(world)
    assert await payouts_of(world, cast.beneficiary.party_id) == []
    assert await world.wallet(cast.beneficiary) == (5_000, 0)
    assert await world.sandbox.listed("payouts") == []
    released = await event_data(world, escrow["id"], "escrow.milestone_released")
    completed = await event_data(world, escrow["id"], "escrow.completed")
    assert [e["released_to"] for e in released + completed] == ["wallet", "wallet"]
    assert await scalar(world.sessions, PAYOUT_JOBS) == 0


async def test_a_split_pays_out_its_released_share_and_a_refused_hold_keeps_the_money(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    escrow = await funded(client, cast, platform_fee_minor=FEE, auto_payout=TO)
    for number in (1, 2):
        await act(client, escrow, f"milestones/{number}/deliver", cast.beneficiary.headers)
        await act(client, escrow, f"milestones/{number}/dispute", cast.client.headers, {"reason": "late"})
    split = {"release_minor": 3_000, "refund_minor": 3_000, "note": "half done"}
    resolved = await act(client, escrow, "milestones/1/resolve", {**cast.support, "Idempotency-Key": "r1"}, split)
    assert resolved.status_code == 200, resolved.text
    await run_escrow_jobs(world)
    payouts = await payouts_of(world, cast.beneficiary.party_id)
    assert [(p["amount_minor"], p["status"]) for p in payouts] == [(2_700, "processing")]

    # The beneficiary's wallet holds the next release elsewhere before its payout starts.
    whole = {"release_minor": 4_000, "refund_minor": 0, "note": "done"}
    await act(client, escrow, "milestones/2/resolve", {**cast.support, "Idempotency-Key": "r2"}, whole)
    hold = await client.post(
        f"/v1/wallets/{cast.beneficiary.wallet_id}/holds",
        json={"amount_minor": 3_600, "reason": "spent elsewhere"},
        headers=cast.platform,
    )
    assert hold.status_code == 201, hold.text
    await run_escrow_jobs(world)
    assert len(await payouts_of(world, cast.beneficiary.party_id)) == 1
    second = (await shown(world, escrow["id"]))["milestones"][1]
    assert (second["payout_state"], second["payout_id"]) == ("refused", None)
    refused = await event_data(world, escrow["id"], "escrow.auto_payout_refused")
    assert [(e["number"], e["code"], e["released_to"]) for e in refused] == [(2, "insufficient_funds", "wallet")]
    assert await world.wallet(cast.beneficiary) == (2_700 + 3_600, 2_700 + 3_600)
    await assert_ledger_clean(world.sessions)


async def test_the_beneficiarys_phone_is_the_default_and_refusals_create_nothing(
    client: httpx.AsyncClient, cast: Cast, world: World
) -> None:
    made = await create(client, cast, auto_payout={"operator": "orange"})
    assert made["auto_payout"] == {"operator": "orange", "phone": cast.beneficiary.party["phone"], "country": None}

    before = await scalar(world.sessions, "SELECT count(*) FROM escrows")
    phoneless = await owner(client, cast.platform, display_name="No Phone", phone=None)
    refusals: list[tuple[dict[str, Any], int, str]] = [
        (
            {"beneficiary_party_id": phoneless.party_id, "auto_payout": {"operator": "mtn"}},
            422,
            "auto_payout_phone_required",
        ),
        ({"currency": "EUR", "auto_payout": TO}, 422, "no_payout_provider"),
        ({"auto_payout": {"operator": "mtn", "phone": "0700"}}, 422, "validation_failed"),
    ]
    for overrides, status, code in refusals:
        body = {**_body(cast), **overrides}
        response = await client.post("/v1/escrows", json=body, headers=cast.platform)
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert await scalar(world.sessions, "SELECT count(*) FROM escrows") == before


def _body(cast: Cast) -> dict[str, Any]:
    return {
        "client_party_id": cast.client.party_id,
        "beneficiary_party_id": cast.beneficiary.party_id,
        "currency": "XOF",
        "amount_minor": 1_000,
        "milestones": [{"title": "one", "amount_minor": 1_000}],
    }
