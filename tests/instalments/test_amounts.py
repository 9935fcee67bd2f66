"""The amount due and manual reductions: integers in minor units, a percent rounded
half-up to the currency's minor unit (XOF's exponent 0, EUR's 2), the final never below
0 nor above the base; a reduction granted by support (or the platform where allowed),
audited; refusals write nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.instalments import service as instalments_service
from tests.instalments.conftest import Cast, Headers, Sessions, cast_in, create_plan, events_of, scalar
from tests.support.operations import rows_beside_answers


@pytest.mark.parametrize(
    ("base", "bps", "expected"),
    [
        (1_001, 5_000, 501),  # 500.5 → 501: half goes up
        (1_003, 5_000, 502),  # 501.5 → 502
        (999, 3_333, 333),  # 332.9667 → 333
        (10, 1_250, 1),  # 1.25 → 1
        (1, 5_000, 1),  # 0.5 → 1
        (1, 4_999, 0),  # 0.4999 → 0
        (12_345, 10_000, 12_345),
    ],
)
def test_a_percent_is_rounded_half_up_to_the_minor_unit(base: int, bps: int, expected: int) -> None:
    assert instalments_service.percent_of(base, bps) == expected


async def reduce(client: httpx.AsyncClient, instalment_id: str, headers: Headers, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/instalments/{instalment_id}/reductions", json={"reason": "Goodwill", **body}, headers=headers
    )


async def due(client: httpx.AsyncClient, instalment_id: str, headers: Headers) -> dict[str, Any]:
    response = await client.get(f"/v1/instalments/{instalment_id}/amount-due", headers=headers)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


@pytest.mark.parametrize(("currency", "base"), [("XOF", 1_001), ("EUR", 1_001)])
async def test_fixed_and_percent_reductions_on_both_exponents(
    client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions, currency: str, base: int
) -> None:
    cast = await cast_in(client, platform_headers, sessions, currency=currency)
    plan = await create_plan(client, cast, base, currency=currency)
    instalment = plan["instalments"][0]["id"]
    assert await due(client, instalment, cast.platform) == {
        "instalment_id": instalment,
        "currency": currency,
        "base_minor": base,
        "promo_code": None,
        "promo_discount_minor": 0,
        "reductions_minor": 0,
        "final_minor": base,
        "rounding": "half_up_minor_unit",
    }
    percent = await reduce(client, instalment, cast.support, type="percent", percent="50")
    assert percent.status_code == 201, percent.text
    assert percent.json()["id"].startswith("inr_")
    fixed = await reduce(client, instalment, cast.support, type="fixed", amount_minor=100)
    assert fixed.status_code == 201, fixed.text
    shown = await due(client, instalment, cast.payer.headers)
    # 50 % of 1001 minor units is 500.5, rounded half-up to 501 (5.01 EUR, or 501 XOF).
    assert (shown["reductions_minor"], shown["final_minor"]) == (601, 400)
    actions = await scalar(
        sessions,
        "SELECT count(*) FROM audit_events WHERE entity_id = :id AND action = 'instalment.reduced'",
        id=instalment,
    )
    assert actions == 2
    assert await events_of(sessions, instalment) == ["instalment.reduced", "instalment.reduced"]


async def test_reductions_beyond_the_base_leave_a_final_of_0_never_below(client: httpx.AsyncClient, cast: Cast) -> None:
    plan = await create_plan(client, cast, 1_000)
    instalment = plan["instalments"][0]["id"]
    for _ in range(2):
        assert (await reduce(client, instalment, cast.support, type="percent", percent="60")).status_code == 201
    assert (await reduce(client, instalment, cast.support, type="fixed", amount_minor=5_000)).status_code == 201
    shown = await due(client, instalment, cast.platform)
    assert (shown["base_minor"], shown["reductions_minor"], shown["final_minor"]) == (1_000, 1_000, 0)


async def test_only_support_grants_a_reduction_unless_the_platform_allows_its_key(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    plan = await create_plan(client, cast, 1_000)
    instalment = plan["instalments"][0]["id"]
    before = await rows_beside_answers(sessions)
    for headers in (cast.platform, cast.payer.headers):
        refused = await reduce(client, instalment, headers, type="fixed", amount_minor=100)
        assert refused.status_code == 403, refused.text
    bad = await reduce(client, instalment, cast.support, type="fixed", percent="10")
    assert bad.status_code == 422, bad.text
    assert await rows_beside_answers(sessions) == before
    allowed = await client.patch(
        f"/v1/platforms/{DEFAULT_PLATFORM_ID}",
        json={"settings": {"instalment_reductions_by_platform": True}},
        headers=admin_headers,
    )
    assert allowed.status_code == 200, allowed.text
    granted = await reduce(client, instalment, cast.platform, type="fixed", amount_minor=100)
    assert granted.status_code == 201, granted.text
    assert (await due(client, instalment, cast.platform))["final_minor"] == 900
