"""Promo codes on instalments: checked before the amount is computed (an expired,
inactive, not-yet-valid or exhausted code is a 422 naming which, and nothing moves), a
percent rounded half-up or a fixed amount off, reserved with the payment and confirmed
with it; a code of one redemption used on ten instalments at once is used exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sika.core import clock
from tests.instalments.conftest import Cast, Headers, Sessions, assert_invariants_hold, create_plan, pay, scalar
from tests.support.factories import top_up
from tests.support.operations import rows_beside_answers


async def promo(client: httpx.AsyncClient, cast: Cast, code: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/promo-codes", json={"code": code, **fields}, headers=cast.platform)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def due(client: httpx.AsyncClient, cast: Cast, instalment_id: str, code: str) -> httpx.Response:
    return await client.get(
        f"/v1/instalments/{instalment_id}/amount-due", params={"promo_code": code}, headers=cast.platform
    )


async def test_a_percent_promo_rounds_half_up_and_a_fixed_one_never_goes_below_0(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    plan = await create_plan(client, cast, 1_005, 300)
    first, second = (i["id"] for i in plan["instalments"])
    await promo(client, cast, "HALF", percent_off_bps=5_000)
    await promo(client, cast, "BIG", amount_off_minor=500, currency="XOF")
    shown = (await due(client, cast, first, "half")).json()
    # 50 % of 1,005 francs is 502.5, rounded half-up to 503.
    assert (shown["promo_code"], shown["promo_discount_minor"], shown["final_minor"]) == ("HALF", 503, 502)
    big = (await due(client, cast, second, "Big")).json()
    assert (big["promo_discount_minor"], big["final_minor"]) == (300, 0)
    await top_up(client, admin_headers, cast.payer.wallet_id, 502)
    paid = await pay(client, first, cast.payer.headers, "half-pay", {"promo_code": "half"})
    assert paid.status_code == 200, paid.text
    payment = paid.json()["payment"]
    assert (payment["discount_minor"], payment["final_minor"], payment["promo_code"]) == (503, 502, "HALF")
    state = await scalar(sessions, "SELECT state FROM promo_redemptions WHERE subject_id = :id", id=first)
    assert state == "confirmed"
    free = await pay(client, second, cast.payer.headers, "big-pay", {"promo_code": "BIG"})
    assert (free.status_code, free.json()["payment"]["method"]) == (200, "nothing_due")
    await assert_invariants_hold(sessions)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"expires_at": "offset:-1"}, "promo_code_expired"),
        ({"active": False}, "promo_code_inactive"),
        ({"starts_at": "offset:+1"}, "promo_code_not_yet_valid"),
        ({"max_redemptions": 1, "used": True}, "promo_code_exhausted"),
    ],
)
async def test_an_unusable_code_is_refused_naming_why_and_moves_nothing(
    client: httpx.AsyncClient,
    cast: Cast,
    sessions: Sessions,
    admin_headers: Headers,
    fields: dict[str, Any],
    code: str,
) -> None:
    now = clock.now()
    sent = {k: v for k, v in fields.items() if k != "used"}
    for name, value in sent.items():
        if isinstance(value, str) and value.startswith("offset:"):
            sent[name] = (now + timedelta(days=int(value.removeprefix("offset:")))).isoformat()
    if "expires_at" in sent:
        sent["starts_at"] = (now - timedelta(days=2)).isoformat()
    await promo(client, cast, "SCHOOL", percent_off_bps=1_000, **sent)
    plan = await create_plan(client, cast, 1_000, 1_000)
    first, second = (i["id"] for i in plan["instalments"])
    await top_up(client, admin_headers, cast.payer.wallet_id, 2_000)
    if fields.get("used"):
        assert (await pay(client, first, cast.platform, "use-it", {"promo_code": "school"})).status_code == 200
    before = await rows_beside_answers(sessions)
    refused = await pay(client, second, cast.platform, "refused", {"promo_code": "school"})
    assert (refused.status_code, refused.json()["code"]) == (422, code), refused.text
    assert (await due(client, cast, second, "school")).json()["code"] == code
    assert await rows_beside_answers(sessions) == before


async def test_a_code_of_one_redemption_on_ten_instalments_at_once_is_used_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    await promo(client, cast, "ONCE", percent_off_bps=1_000, max_redemptions=1)
    plan = await create_plan(client, cast, *([1_000] * 10))
    await top_up(client, admin_headers, cast.payer.wallet_id, 10_000)
    answers = await asyncio.gather(
        *(
            pay(client, instalment["id"], cast.platform, f"once-{n}", {"promo_code": "once"})
            for n, instalment in enumerate(plan["instalments"])
        )
    )
    said = sorted((answer.status_code, answer.json().get("code")) for answer in answers)
    assert said == [(200, None)] + [(422, "promo_code_exhausted")] * 9
    confirmed = await scalar(sessions, "SELECT count(*) FROM promo_redemptions WHERE state = 'confirmed'")
    assert confirmed == 1
    assert await scalar(sessions, "SELECT count(*) FROM instalment_payments") == 1
    await assert_invariants_hold(sessions)
