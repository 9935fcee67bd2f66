"""Plans over HTTP: explicit instalments or a schedule, their sums checked; reading them;
the platform cancelling or stopping a plan or one instalment with a reason. Refusals move
nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.instalments.conftest import Cast, Sessions, create_plan, events_of, plan_body, today
from tests.support.factories import owner
from tests.support.operations import rows_beside_answers


async def test_explicit_instalments_make_an_active_plan_of_scheduled_instalments(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    plan = await create_plan(client, cast, 5_000, 3_000, 2_000)
    assert plan["id"].startswith("inp_")
    assert (plan["status"], plan["total_minor"], plan["payer_wallet_id"]) == ("active", 10_000, cast.payer.wallet_id)
    assert plan["payee_wallet_id"] == cast.payee.wallet_id
    shown = [(i["number"], i["amount_minor"], i["status"]) for i in plan["instalments"]]
    assert shown == [(1, 5_000, "scheduled"), (2, 3_000, "scheduled"), (3, 2_000, "scheduled")]
    assert all(i["id"].startswith("ins_") for i in plan["instalments"])
    assert await events_of(sessions, plan["id"]) == ["plan.created"]
    again = await client.get(f"/v1/instalment-plans/{plan['id']}", headers=cast.payer.headers)
    assert again.json() == plan
    listed = await client.get("/v1/instalment-plans", headers=cast.platform)
    assert [p["id"] for p in listed.json()["data"]] == [plan["id"]]


async def test_a_schedule_splits_the_total_evenly_the_first_ones_taking_the_units_left(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    body = plan_body(cast, to_party=False, total_minor=10_001)
    del body["instalments"]
    body["schedule"] = {"count": 3, "first_due_on": "2027-01-31", "interval_months": 1}
    response = await client.post("/v1/instalment-plans", json=body, headers=cast.platform)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["payee_party_id"] is None, "the platform is paid"
    shown = [(i["due_on"], i["amount_minor"]) for i in plan["instalments"]]
    assert shown == [("2027-01-31", 3_334), ("2027-02-28", 3_334), ("2027-03-31", 3_333)]


async def test_instalments_that_do_not_add_up_are_refused_and_write_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    before = await rows_beside_answers(sessions)
    body = plan_body(cast, 5_000, 3_000, total_minor=8_001)
    response = await client.post("/v1/instalment-plans", json=body, headers=cast.platform)
    assert (response.status_code, response.json()["code"]) == (422, "instalments_do_not_add_up")
    french = await client.post("/v1/instalment-plans", json=body, headers={**cast.platform, "Accept-Language": "fr"})
    assert "échéances" in french.json()["detail"]
    assert await rows_beside_answers(sessions) == before


async def test_a_party_token_sees_only_its_own_plans(client: httpx.AsyncClient, cast: Cast) -> None:
    plan = await create_plan(client, cast)
    headers = (await owner(client, cast.platform, display_name="Ama Other", phone="+221770000009")).headers
    response = await client.get(f"/v1/instalment-plans/{plan['id']}", headers=headers)
    assert response.status_code == 403, response.text
    assert (await client.get("/v1/instalment-plans", headers=headers)).json()["data"] == []


async def test_cancelling_one_instalment_then_stopping_the_plan_ends_what_is_open_with_the_reason(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    plan = await create_plan(client, cast)
    first, second, third = (i["id"] for i in plan["instalments"])
    cancelled = await client.post(
        f"/v1/instalments/{second}/cancel", json={"reason": "Agreed discount"}, headers=cast.platform
    )
    assert cancelled.status_code == 200, cancelled.text
    assert [i["status"] for i in cancelled.json()["instalments"]] == ["scheduled", "cancelled", "scheduled"]
    stopped = await client.post(
        f"/v1/instalment-plans/{plan['id']}/stop", json={"reason": "Contract ended"}, headers=cast.platform
    )
    assert stopped.status_code == 200, stopped.text
    shown = stopped.json()
    assert (shown["status"], shown["end_reason"]) == ("stopped", "Contract ended")
    assert [(i["status"], i["end_reason"]) for i in shown["instalments"]] == [
        ("stopped", "Contract ended"),
        ("cancelled", "Agreed discount"),
        ("stopped", "Contract ended"),
    ]
    assert await events_of(sessions, second) == ["instalment.cancelled"]
    assert await events_of(sessions, first) == ["instalment.stopped"]
    assert await events_of(sessions, plan["id"]) == ["plan.created", "plan.stopped"]
    before = await rows_beside_answers(sessions)
    again = await client.post(
        f"/v1/instalment-plans/{plan['id']}/cancel", json={"reason": "Twice"}, headers=cast.platform
    )
    assert (again.status_code, again.json()["code"]) == (409, "instalment_plan_state_conflict")
    one = await client.post(f"/v1/instalments/{third}/cancel", json={"reason": "Twice"}, headers=cast.platform)
    assert (one.status_code, one.json()["code"]) == (409, "instalment_not_payable")
    assert await rows_beside_answers(sessions) == before


async def test_a_schedule_every_few_days_and_its_remainder(client: httpx.AsyncClient, cast: Cast) -> None:
    body = plan_body(cast, total_minor=100)
    del body["instalments"]
    first = today() + timedelta(days=1)
    body["schedule"] = {"count": 3, "first_due_on": first.isoformat(), "interval_days": 14}
    response = await client.post("/v1/instalment-plans", json=body, headers=cast.platform)
    shown = [(i["due_on"], i["amount_minor"]) for i in response.json()["instalments"]]
    assert shown == [(str(first + timedelta(days=14 * n)), amount) for n, amount in enumerate((34, 33, 33))]
