"""Paying from the payer's wallet: exactly the final amount moves to the payee in one
ledger transfer, the instalment is paid once, the plan completes with its last one.
Paying twice, or a cancelled or stopped instalment, is refused (409 naming why) and
moves nothing; a final of 0 is paid with no money moved."""

from __future__ import annotations

import httpx

from tests.instalments.conftest import (
    Cast,
    Headers,
    Sessions,
    assert_invariants_hold,
    create_plan,
    events_of,
    pay,
    scalar,
)
from tests.support.factories import top_up
from tests.support.operations import rows_beside_answers


async def balance(client: httpx.AsyncClient, headers: Headers, wallet_id: str) -> int:
    return int((await client.get(f"/v1/wallets/{wallet_id}", headers=headers)).json()["balance_minor"])


async def test_each_instalment_paid_from_the_wallet_moves_its_amount_and_the_last_completes_the_plan(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    await top_up(client, admin_headers, cast.payer.wallet_id, 10_000)
    plan = await create_plan(client, cast, 5_000, 3_000, 2_000)
    for n, instalment in enumerate(plan["instalments"]):
        paid = await pay(client, instalment["id"], cast.payer.headers, f"pay-{n}")
        assert paid.status_code == 200, paid.text
        shown = paid.json()
        assert shown["instalment"]["status"] == "paid"
        assert shown["collection"] is None
        payment = shown["payment"]
        assert (payment["method"], payment["status"], payment["final_minor"]) == (
            "wallet",
            "succeeded",
            instalment["amount_minor"],
        )
        moved = await scalar(
            sessions, "SELECT amount_minor FROM ledger_transfers WHERE id = :id", id=payment["transfer_id"]
        )
        assert moved == instalment["amount_minor"]
    assert await balance(client, cast.platform, cast.payer.wallet_id) == 0
    assert await balance(client, cast.platform, cast.payee.wallet_id) == 10_000
    assert await events_of(sessions, plan["instalments"][2]["id"]) == ["instalment.paid"]
    assert await events_of(sessions, plan["id"]) == ["plan.created", "plan.completed"]
    await assert_invariants_hold(sessions)


async def test_paying_twice_is_refused_naming_the_payment_and_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    await top_up(client, admin_headers, cast.payer.wallet_id, 10_000)
    plan = await create_plan(client, cast, 5_000, 5_000, to_party=False)
    instalment = plan["instalments"][0]["id"]
    first = await pay(client, instalment, cast.platform, "once")
    assert first.status_code == 200, first.text
    before = await rows_beside_answers(sessions)
    again = await pay(client, instalment, cast.platform, "twice")
    problem = again.json()
    assert (again.status_code, problem["code"]) == (409, "instalment_already_paid")
    assert problem["payment_id"] == first.json()["payment"]["id"]
    assert await rows_beside_answers(sessions) == before
    assert await balance(client, cast.platform, cast.payer.wallet_id) == 5_000
    revenue = await scalar(sessions, "SELECT credits_posted FROM ledger_accounts WHERE id = 'acct_platform_fees_xof'")
    assert revenue == 5_000, "the platform is paid into its revenue (fee) account"


async def test_a_cancelled_or_stopped_instalment_is_refused_and_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    await top_up(client, admin_headers, cast.payer.wallet_id, 10_000)
    plan = await create_plan(client, cast, 4_000, 6_000)
    cancelled, stopped = (i["id"] for i in plan["instalments"])
    await client.post(f"/v1/instalments/{cancelled}/cancel", json={"reason": "Annulé"}, headers=cast.platform)
    await client.post(f"/v1/instalments/{stopped}/stop", json={"reason": "Arrêté"}, headers=cast.platform)
    before = await rows_beside_answers(sessions)
    for instalment, status in ((cancelled, "cancelled"), (stopped, "stopped")):
        refused = await pay(client, instalment, cast.payer.headers, f"refused-{status}")
        assert (refused.status_code, refused.json()["code"], refused.json()["state"]) == (
            409,
            "instalment_not_payable",
            status,
        )
    assert await rows_beside_answers(sessions) == before
    assert await balance(client, cast.platform, cast.payer.wallet_id) == 10_000


async def test_a_wallet_short_of_the_amount_is_refused_and_the_instalment_stays_payable(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    await top_up(client, admin_headers, cast.payer.wallet_id, 999)
    plan = await create_plan(client, cast, 1_000)
    instalment = plan["instalments"][0]["id"]
    before = await rows_beside_answers(sessions)
    short = await pay(client, instalment, cast.payer.headers, "short")
    assert (short.status_code, short.json()["code"]) == (409, "insufficient_funds"), short.text
    assert await rows_beside_answers(sessions) == before
    await top_up(client, admin_headers, cast.payer.wallet_id, 1)
    assert (await pay(client, instalment, cast.payer.headers, "enough")).status_code == 200


async def test_a_final_of_0_is_paid_with_no_money_moved(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    plan = await create_plan(client, cast, 1_000)
    instalment = plan["instalments"][0]["id"]
    reduced = await client.post(
        f"/v1/instalments/{instalment}/reductions",
        json={"type": "percent", "percent": "100", "reason": "Scholarship"},
        headers=cast.support,
    )
    assert reduced.status_code == 201, reduced.text
    transfers = await scalar(sessions, "SELECT count(*) FROM ledger_transfers")
    paid = await pay(
        client, instalment, cast.payer.headers, "free", {"method": {"type": "card", "card_token": "pm_card_visa"}}
    )
    assert paid.status_code == 200, paid.text
    payment = paid.json()["payment"]
    assert (payment["method"], payment["final_minor"], payment["transfer_id"], payment["collection_id"]) == (
        "nothing_due",
        0,
        None,
        None,
    )
    assert paid.json()["collection"] is None
    assert await scalar(sessions, "SELECT count(*) FROM ledger_transfers") == transfers
    assert await scalar(sessions, "SELECT count(*) FROM payments_collections") == 0
    await assert_invariants_hold(sessions)
