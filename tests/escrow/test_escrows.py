"""Escrows over HTTP: created with milestones that add up and the platform's fee and
delay, funded from the client's wallet in full or in part, delivered, approved,
disputed and resolved, each move paying out of the escrow's own account into the
right wallets, with its events and audit rows; refusals move nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, invariants
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.wallets.service.fees import fee_account_id
from tests.escrow.conftest import (
    CLIENT_FUNDS,
    Cast,
    act,
    available,
    create,
    escrow_body,
    events_of,
    funded,
    scalar,
)
from tests.support.idempotency import NO_KEY
from tests.support.ledger import balance, snapshot
from tests.support.operations import rows_beside_answers

Sessions = async_sessionmaker[AsyncSession]


async def set_platform(client: httpx.AsyncClient, cast: Cast, **fields: object) -> None:
    response = await client.patch(f"/v1/platforms/{DEFAULT_PLATFORM_ID}", json=fields, headers=cast.admin)
    assert response.status_code == 200, response.text


async def check_clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def test_created_with_the_platforms_fee_and_delay(client: httpx.AsyncClient, cast: Cast) -> None:
    await set_platform(
        client, cast, fee_policy={"XOF": {"percent_bps": 250}}, settings={"auto_release_delay_seconds": 3600}
    )
    escrow = await create(client, cast, 6_000, 3_000, 1_000, metadata={"order": "A-1"})
    assert escrow["status"] == "awaiting_funding"
    assert (escrow["amount_minor"], escrow["fee_minor"], escrow["funded_minor"]) == (10_000, 250, 0)
    assert escrow["release_after_delivery_seconds"] == 3600
    assert escrow["metadata"] == {"order": "A-1"}
    assert [(m["number"], m["amount_minor"], m["fee_minor"], m["status"]) for m in escrow["milestones"]] == [
        (1, 6_000, 150, "pending"),
        (2, 3_000, 75, "pending"),
        (3, 1_000, 25, "pending"),
    ]
    assert escrow["client_wallet_id"] == cast.client.wallet_id
    assert escrow["beneficiary_wallet_id"] == cast.beneficiary.wallet_id
    shown = await client.get(f"/v1/escrows/{escrow['id']}", headers=cast.client.headers)
    assert shown.status_code == 200
    assert shown.json() == escrow


async def test_a_platform_key_overrides_fee_and_delay(client: httpx.AsyncClient, cast: Cast) -> None:
    await set_platform(client, cast, fee_policy={"XOF": {"percent_bps": 250}})
    escrow = await create(client, cast, 5_000, 2_000, platform_fee_minor=701, release_after_delivery_seconds=0)
    assert escrow["fee_minor"] == 701
    assert [m["fee_minor"] for m in escrow["milestones"]] == [501, 200]
    assert escrow["release_after_delivery_seconds"] == 0
    default = await create(client, cast, 1_000)
    assert default["release_after_delivery_seconds"] == 172_800


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount_minor": 9_999}, 422, "milestones_do_not_add_up"),
        ({"platform_fee_minor": 10_001}, 422, "escrow_fee_too_high"),
        ({"beneficiary_party_id": "CLIENT"}, 422, "escrow_parties_invalid"),
        ({"currency": "GHS"}, 409, "escrow_party_has_no_wallet"),
        ({"milestones": []}, 422, "validation_failed"),
    ],
)
async def test_an_invalid_escrow_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, change: dict[str, object], status: int, code: str
) -> None:
    body = escrow_body(cast, **change)
    if body["beneficiary_party_id"] == "CLIENT":
        body["beneficiary_party_id"] = cast.client.party_id
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    # Sent without a key: a domain refusal's answer is stored under one, and this counts every row.
    response = await client.post("/v1/escrows", json=body, headers=cast.platform, extensions=NO_KEY)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows
    assert await scalar(sessions, "SELECT count(*) FROM escrows") == 0


async def test_funded_in_parts_from_the_clients_wallet(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await create(client, cast)
    first = await act(client, escrow, "fund", cast.client.headers, {"amount_minor": 3_000})
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["funded_minor"], first.json()["held_minor"]) == (
        "awaiting_funding",
        3_000,
        3_000,
    )
    too_much = await act(client, escrow, "fund", cast.platform, {"amount_minor": 7_001})
    assert (too_much.status_code, too_much.json()["code"]) == (409, "deposit_exceeds_remaining")
    rest = await act(client, escrow, "fund", cast.platform, {})
    assert (rest.json()["status"], rest.json()["funded_minor"]) == ("funded", 10_000)
    assert await available(client, cast.platform, cast.client.wallet_id) == CLIENT_FUNDS - 10_000
    account = await scalar(sessions, "SELECT account_id FROM escrows WHERE id = :id", id=escrow["id"])
    assert (await balance(sessions, account)).posted_minor == 10_000
    deposits = await scalar(
        sessions, "SELECT count(*) FROM ledger_transfers WHERE id LIKE :prefix", prefix=f"{escrow['id']}.deposit.%"
    )
    assert deposits == 2
    assert await events_of(sessions, escrow["id"]) == ["escrow.funded"]
    again = await act(client, escrow, "fund", cast.platform, {})
    assert (again.status_code, again.json()["code"]) == (409, "escrow_state_conflict")
    assert "funded" in again.json()["detail"]
    await check_clean(sessions)


async def test_insufficient_funds_moves_nothing(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    escrow = await create(client, cast, CLIENT_FUNDS + 1)
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    response = await act(client, escrow, "fund", cast.client.headers, {})
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_funds")
    assert cast.client.wallet_id in response.json()["detail"]
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows
    shown = (await client.get(f"/v1/escrows/{escrow['id']}", headers=cast.platform)).json()
    assert (shown["status"], shown["funded_minor"]) == ("awaiting_funding", 0)


async def test_delivered_approved_released_and_completed(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    await set_platform(client, cast, fee_policy={"XOF": {"percent_bps": 100}})
    escrow = await funded(client, cast, 6_000, 4_000)
    delivered = await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    assert delivered.status_code == 200, delivered.text
    first = delivered.json()["milestones"][0]
    assert first["status"] == "delivered"
    assert first["release_at"] is not None
    approved = await act(client, escrow, "milestones/1/approve", cast.client.headers)
    assert approved.status_code == 200, approved.text
    shown = approved.json()
    assert shown["milestones"][0]["status"] == "released"
    assert (shown["milestones"][0]["released_minor"], shown["milestones"][0]["fee_paid_minor"]) == (6_000, 60)
    assert (shown["status"], shown["released_minor"], shown["held_minor"]) == ("funded", 6_000, 4_000)
    assert await available(client, cast.platform, cast.beneficiary.wallet_id) == 5_940
    await act(client, escrow, "milestones/2/deliver", cast.platform)
    done = (await act(client, escrow, "milestones/2/approve", cast.platform)).json()
    assert (done["status"], done["held_minor"], done["completed_at"] is not None) == ("completed", 0, True)
    assert await available(client, cast.platform, cast.beneficiary.wallet_id) == 9_900
    fees = await balance(sessions, fee_account_id(DEFAULT_PLATFORM_ID, "XOF"))
    assert fees.posted_minor == 100
    assert await events_of(sessions, escrow["id"]) == [
        "escrow.funded",
        "escrow.milestone_delivered",
        "escrow.milestone_released",
        "escrow.milestone_delivered",
        "escrow.milestone_released",
        "escrow.completed",
    ]
    journal = await scalar(
        sessions,
        "SELECT count(DISTINCT journal_id) FROM ledger_transfers WHERE id IN (:r, :f)",
        r=f"{escrow['id']}.m1.release",
        f=f"{escrow['id']}.m1.fee",
    )
    assert journal == 1
    async with sessions() as session:
        audited = (
            await session.execute(
                sa.text("SELECT action FROM audit_events WHERE entity_id = :id ORDER BY seq"), {"id": escrow["id"]}
            )
        ).scalars()
        assert list(audited) == [
            "escrow.created",
            "escrow.deposited",
            "escrow.milestone_delivered",
            "escrow.milestone_released",
            "escrow.milestone_delivered",
            "escrow.milestone_released",
            "escrow.completed",
        ]
    await check_clean(sessions)


async def test_disputed_then_resolved_in_part(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    await set_platform(client, cast, fee_policy={"XOF": {"percent_bps": 1000}})
    escrow = await funded(client, cast, 10_000)
    await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    disputed = await act(client, escrow, "milestones/1/dispute", cast.client.headers, {"reason": "half done"})
    assert disputed.status_code == 200, disputed.text
    milestone = disputed.json()["milestones"][0]
    assert (milestone["status"], milestone["release_at"], milestone["dispute_reason"]) == (
        "disputed",
        None,
        "half done",
    )
    wrong = await act(
        client, escrow, "milestones/1/resolve", cast.support, {"release_minor": 1, "refund_minor": 1, "note": "x"}
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "resolution_does_not_add_up")
    resolved = await act(
        client,
        escrow,
        "milestones/1/resolve",
        cast.support,
        {"release_minor": 6_000, "refund_minor": 4_000, "note": "agreed on 60%"},
    )
    assert resolved.status_code == 200, resolved.text
    shown = resolved.json()
    assert shown["status"] == "partially_refunded"
    assert [shown["milestones"][0][k] for k in ("status", "released_minor", "fee_paid_minor", "refunded_minor")] == [
        "divided",
        6_000,
        600,
        4_000,
    ]
    assert await available(client, cast.platform, cast.beneficiary.wallet_id) == 5_400
    assert await available(client, cast.platform, cast.client.wallet_id) == CLIENT_FUNDS - 6_000
    assert await events_of(sessions, escrow["id"]) == [
        "escrow.funded",
        "escrow.milestone_delivered",
        "escrow.disputed",
        "escrow.dispute_resolved",
        "escrow.milestone_released",
        "escrow.milestone_refunded",
        "escrow.completed",
    ]
    await check_clean(sessions)


async def test_cancelled_before_funding_gives_deposits_back(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await create(client, cast)
    await act(client, escrow, "fund", cast.client.headers, {"amount_minor": 2_500})
    cancelled = await act(client, escrow, "cancel", cast.client.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["held_minor"]) == ("cancelled", 0)
    assert await available(client, cast.platform, cast.client.wallet_id) == CLIENT_FUNDS
    await check_clean(sessions)


async def test_the_escrow_account_is_managed(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    """Only the escrow's own flows move its money: the raw ledger API refuses its account."""
    escrow = await funded(client, cast)
    account = await scalar(sessions, "SELECT account_id FROM escrows WHERE id = :id", id=escrow["id"])
    wallet_account = await scalar(sessions, "SELECT account_id FROM wallets WHERE id = :id", id=cast.other.wallet_id)
    before = await snapshot(sessions)
    transfer = {
        "debit_account_id": account,
        "credit_account_id": wallet_account,
        "amount_minor": 1_000,
        "currency": "XOF",
        "code": "steal",
    }
    response = await client.post("/v1/ledger/transfers", json=transfer, headers=cast.platform)
    assert (response.status_code, response.json()["code"]) == (409, "account_managed")
    assert await snapshot(sessions) == before


async def test_lists_newest_first_and_a_party_sees_its_own(client: httpx.AsyncClient, cast: Cast) -> None:
    first = await create(client, cast)
    second = await funded(client, cast)
    listed = (await client.get("/v1/escrows", headers=cast.platform)).json()
    assert [e["id"] for e in listed["data"]] == [second["id"], first["id"]]
    only_funded = (await client.get("/v1/escrows", params={"status": "funded"}, headers=cast.platform)).json()
    assert [e["id"] for e in only_funded["data"]] == [second["id"]]
    mine = (await client.get("/v1/escrows", headers=cast.beneficiary.headers)).json()
    assert len(mine["data"]) == 2
    assert (await client.get("/v1/escrows", headers=cast.other.headers)).json()["data"] == []
    others = await client.get("/v1/escrows", params={"party_id": cast.client.party_id}, headers=cast.other.headers)
    assert (others.status_code, others.json()["code"]) == (403, "not_owned_by_party")
    hidden = await client.get(f"/v1/escrows/{first['id']}", headers=cast.other.headers)
    assert (hidden.status_code, hidden.json()["code"]) == (403, "not_owned_by_party")


async def test_a_deposit_replayed_with_its_idempotency_key_moves_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await create(client, cast)
    headers = {**cast.client.headers, "Idempotency-Key": "deposit-1"}
    first = await client.post(f"/v1/escrows/{escrow['id']}/fund", json={"amount_minor": 1_000}, headers=headers)
    again = await client.post(f"/v1/escrows/{escrow['id']}/fund", json={"amount_minor": 1_000}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await available(client, cast.platform, cast.client.wallet_id) == CLIENT_FUNDS - 1_000


async def test_a_deadline_needs_its_offset(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    body = escrow_body(cast, 1_000)
    body["milestones"][0]["deliver_by"] = "2030-01-01T00:00:00"
    response = await client.post("/v1/escrows", json=body, headers=cast.platform)
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
    assert await scalar(sessions, "SELECT count(*) FROM escrows") == 0


async def test_no_delivery_past_the_deadline(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    past = (clock.now() - timedelta(seconds=1)).isoformat()
    escrow = await funded(
        client, cast, amount_minor=1_000, milestones=[{"title": "late", "amount_minor": 1_000, "deliver_by": past}]
    )
    before = await rows_beside_answers(sessions)
    response = await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    assert (response.status_code, response.json()["code"]) == (409, "milestone_deadline_passed")
    assert await rows_beside_answers(sessions) == before


async def test_a_suspended_client_funds_nothing(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    escrow = await create(client, cast)
    suspended = await client.patch(
        f"/v1/parties/{cast.client.party_id}", json={"status": "suspended"}, headers=cast.platform
    )
    assert suspended.status_code == 200, suspended.text
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    response = await act(client, escrow, "fund", cast.platform, {})
    assert (response.status_code, response.json()["code"]) == (409, "party_suspended")
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows


async def test_the_beneficiarys_summary_counts_what_the_escrow_holds(client: httpx.AsyncClient, cast: Cast) -> None:
    escrow = await funded(client, cast, 6_000, 4_000)
    await act(client, escrow, "milestones/1/deliver", cast.beneficiary.headers)
    await act(client, escrow, "milestones/1/approve", cast.client.headers)
    summary = (await client.get(f"/v1/parties/{cast.beneficiary.party_id}/summary", headers=cast.platform)).json()
    (xof,) = summary["currencies"]
    assert (xof["escrow_pending_minor"], xof["available_minor"]) == (4_000, 6_000)
    client_summary = await client.get(f"/v1/parties/{cast.client.party_id}/summary", headers=cast.platform)
    assert client_summary.json()["currencies"][0]["escrow_pending_minor"] == 0
