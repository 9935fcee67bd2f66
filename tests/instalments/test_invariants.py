"""``sika check``'s instalment invariants find what a hand-made change leaves: an
instalment marked paid with no succeeded payment, and a payment that says it moved
another amount than its ledger transfer did."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from sika.core import db, invariants
from tests.instalments.conftest import Cast, Headers, Sessions, assert_invariants_hold, create_plan, pay
from tests.support.factories import top_up


async def breached(sessions: Sessions) -> dict[str, list[str]]:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    found: dict[str, list[str]] = {}
    for breach in report.breaches:
        found.setdefault(breach.check, []).append(breach.entity_id)
    return found


async def test_a_paid_instalment_without_its_payment_and_a_payment_of_another_amount_are_breaches(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: Headers
) -> None:
    await top_up(client, admin_headers, cast.payer.wallet_id, 3_000)
    plan = await create_plan(client, cast, 1_000, 2_000)
    paid, other = (i["id"] for i in plan["instalments"])
    assert (await pay(client, paid, cast.platform, "pay-1")).status_code == 200
    await assert_invariants_hold(sessions)
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE instalments SET status = 'paid', paid_at = now() WHERE id = :id"), {"id": other}
        )
        await session.execute(
            sa.text(
                "UPDATE instalment_payments SET base_minor = base_minor + 1, final_minor = final_minor + 1"
                " WHERE instalment_id = :id"
            ),
            {"id": paid},
        )
    found = await breached(sessions)
    assert found["instalment_paid_once"] == [other]
    assert found["instalment_payment_amounts"] == [paid]
