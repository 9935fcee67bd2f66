"""An operator decides a proof waiting for review: approved, its milestone is released
(once, whatever else approved it); rejected, the milestone stays delivered and the
beneficiary is told. A milestone whose rule requires a proof is not released by the
minute job until one is approved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, invariants
from sika.core.context import system_actor
from sika.escrow import service as escrow_service
from tests.escrow.conftest import Cast, available, events_of, scalar
from tests.proofs.conftest import AMOUNT, delivered, geofenced, send
from tests.proofs.photos import SITE, jpeg, north_of, now
from tests.support.idempotency import NO_KEY
from tests.support.ledger import snapshot
from tests.support.operations import rows_beside_answers

Sessions = async_sessionmaker[AsyncSession]
RELEASES = "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'esc\\_%.m1.release'"


async def pending_proof(client: httpx.AsyncClient, cast: Cast, escrow: dict[str, Any]) -> dict[str, Any]:
    """A proof taken far from the site: it waits for an operator."""
    photo = jpeg(at=north_of(SITE, 2_000), taken=now())
    response = await send(client, escrow, cast.beneficiary.headers, ("far.jpg", photo))
    assert response.status_code == 201, response.text
    proof: dict[str, Any] = response.json()["data"][0]
    assert proof["status"] == "pending_review"
    return proof


async def decide(
    client: httpx.AsyncClient, proof: dict[str, Any], headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/proofs/{proof['id']}/decision", json=body, headers=headers)


async def check_clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def settle(sessions: Sessions, *, at: Any) -> escrow_service.Settled:
    async with db.transaction(sessions) as session:
        return await escrow_service.settle_due(session, now=at, actor=system_actor("test.settle"))


async def test_an_operator_approves_a_proof_and_the_milestone_is_released(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced())
    proof = await pending_proof(client, cast, escrow)
    before = await available(client, cast.platform, cast.beneficiary.wallet_id)
    response = await decide(client, proof, cast.support, decision="approve", reason="The site manager confirmed it")
    assert response.status_code == 200, response.text
    decided = response.json()
    assert (decided["status"], decided["released"], decided["decision_reason"]) == (
        "approved",
        True,
        "The site manager confirmed it",
    )
    assert decided["decided_by"].startswith("key:")
    assert await available(client, cast.platform, cast.beneficiary.wallet_id) == before + AMOUNT
    assert await scalar(sessions, RELEASES) == 1
    assert await events_of(sessions, proof["id"]) == ["proof.submitted", "proof.approved"]
    audited = await scalar(
        sessions, "SELECT actor FROM audit_events WHERE action = 'proof.approved' AND entity_id = :id", id=proof["id"]
    )
    assert audited == decided["decided_by"]
    again = await decide(client, proof, cast.support, decision="reject", reason="second thoughts")
    assert (again.status_code, again.json()["code"]) == (409, "proof_already_decided")
    # The problem's status is the HTTP status; the state the proof was found in is ``state``.
    assert (again.json()["status"], again.json()["state"]) == (409, "approved")
    await check_clean(sessions)


async def test_a_rejected_proof_leaves_the_milestone_delivered_and_tells_the_beneficiary(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced(required=True))
    proof = await pending_proof(client, cast, escrow)
    before = await snapshot(sessions)
    response = await decide(client, proof, cast.admin, decision="reject", reason="This is not the site")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["released"]) == ("rejected", False)
    assert await snapshot(sessions) == before
    shown = (await client.get(f"/v1/escrows/{escrow['id']}", headers=cast.platform)).json()
    assert shown["milestones"][0]["status"] == "delivered"
    party = await scalar(
        sessions, "SELECT party_id FROM events WHERE type = 'proof.rejected' AND entity_id = :id", id=proof["id"]
    )
    assert party == cast.beneficiary.party_id


async def test_only_operators_decide_and_a_refusal_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced())
    proof = await pending_proof(client, cast, escrow)
    before, rows = await snapshot(sessions), await rows_beside_answers(sessions)
    for headers in (cast.platform, cast.client.headers, cast.beneficiary.headers):
        response = await decide(client, proof, headers, decision="approve", reason="mine")
        assert response.status_code == 403, response.text
    keyless = await client.post(
        f"/v1/proofs/{proof['id']}/decision",
        json={"decision": "approve", "reason": "no key"},
        headers=cast.support,
        extensions=NO_KEY,
    )
    assert (keyless.status_code, keyless.json()["code"]) == (428, "idempotency_key_required")
    unknown = await client.post(
        "/v1/proofs/prf_unknown/decision", json={"decision": "approve", "reason": "x"}, headers=cast.support
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "proof_not_found")
    assert await snapshot(sessions) == before
    assert await rows_beside_answers(sessions) == rows


async def test_a_required_proof_holds_the_release_until_it_is_approved(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced(required=True), release_after_delivery_seconds=0)
    rule = await client.get(f"/v1/escrows/{escrow['id']}/milestones/1/proof-rule", headers=cast.client.headers)
    assert (rule.status_code, rule.json()["required"], rule.json()["auto_approve"]) == (200, True, True)
    assert escrow["milestones"][0]["proof_required"] is True
    later = clock.now() + timedelta(days=30)
    assert (await settle(sessions, at=later)).released == 0
    proof = await pending_proof(client, cast, escrow)
    assert (await settle(sessions, at=later)).released == 0
    assert await scalar(sessions, RELEASES) == 0
    response = await decide(client, proof, cast.support, decision="approve", reason="checked by phone")
    assert response.status_code == 200, response.text
    assert await scalar(sessions, RELEASES) == 1
    await check_clean(sessions)


async def test_without_a_required_proof_the_job_releases_as_before(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced(), release_after_delivery_seconds=0)
    await pending_proof(client, cast, escrow)
    assert (await settle(sessions, at=clock.now() + timedelta(seconds=1))).released == 1
    assert await scalar(sessions, RELEASES) == 1
    await check_clean(sessions)


async def test_a_proof_rule_is_set_by_the_platform_on_an_open_milestone_only(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, None)
    path = f"/v1/escrows/{escrow['id']}/milestones/1/proof-rule"
    refused = await client.post(path, json=geofenced(), headers=cast.beneficiary.headers)
    assert refused.status_code == 403, refused.text
    invalid = await client.post(path, json={"auto_approve": True}, headers=cast.platform)
    assert invalid.status_code == 422, invalid.text
    approved = await client.post(f"/v1/escrows/{escrow['id']}/milestones/1/approve", headers=cast.client.headers)
    assert approved.status_code == 200, approved.text
    late = await client.post(path, json=geofenced(), headers=cast.platform)
    assert late.status_code == 409, late.text
    missing = await client.get(path, headers=cast.platform)
    assert (missing.status_code, missing.json()["code"]) == (404, "proof_rule_not_found")


async def test_approving_a_second_proof_of_a_released_milestone_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    escrow = await delivered(client, cast, geofenced())
    first, second = [await pending_proof(client, cast, escrow) for _ in range(2)]
    assert (await decide(client, first, cast.support, decision="approve", reason="seen")).status_code == 200
    before = await snapshot(sessions)
    response = await decide(client, second, cast.support, decision="approve", reason="seen too")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["released"]) == ("approved", False)
    assert await snapshot(sessions) == before
    assert await scalar(sessions, RELEASES) == 1
    await check_clean(sessions)
