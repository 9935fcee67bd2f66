"""The job: instalments become due on their date and overdue after the grace period,
payers are reminded some days before (once per threshold), each event written once
even with two workers at it in parallel; audit rows beside them."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

import httpx

from sika.core import clock, db
from sika.core.context import system_actor
from sika.instalments import service as instalments_service
from tests.instalments.conftest import Cast, Sessions, events_of, plan_body, scalar, today
from tests.support.factories import top_up

GRACE_DAYS = 3
REMINDERS = (7, 2)


async def worker(sessions: Sessions, day: date) -> int:
    """One worker's run, a batch of one at a time, until nothing is left for ``day``."""
    written = 0
    while True:
        async with db.transaction(sessions) as session:
            done = await instalments_service.advance(
                session,
                today=day,
                grace_days=GRACE_DAYS,
                reminder_days=REMINDERS,
                actor=system_actor("test.advance"),
                now=clock.now(),
                limit=1,
            )
        written += done.reminded + done.due + done.overdue
        if done.locked == 0:
            return written


async def two_workers(sessions: Sessions, day: date) -> int:
    return sum(await asyncio.gather(worker(sessions, day), worker(sessions, day)))


async def test_two_workers_move_each_instalment_once_and_write_each_event_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    offsets = (-5, 1, 6, 20)
    body = plan_body(cast, 1_000, 1_000, 1_000, 1_000)
    body["instalments"] = [
        {"due_on": (today() + timedelta(days=d)).isoformat(), "amount_minor": 1_000} for d in offsets
    ]
    made = await client.post("/v1/instalment-plans", json=body, headers=cast.platform)
    assert made.status_code == 201, made.text
    late, tomorrow, in_six, later = (i["id"] for i in made.json()["instalments"])

    assert await two_workers(sessions, today()) == 4
    assert await events_of(sessions, late) == ["instalment.due", "instalment.overdue"]
    assert await events_of(sessions, tomorrow) == ["instalment.due_soon"], "one reminder, not one per threshold"
    assert await events_of(sessions, in_six) == ["instalment.due_soon"]
    assert await events_of(sessions, later) == []
    assert await two_workers(sessions, today()) == 0, "a second run finds nothing"

    five_days_on = today() + timedelta(days=5)
    assert await two_workers(sessions, five_days_on) == 3
    assert await events_of(sessions, tomorrow) == ["instalment.due_soon", "instalment.due", "instalment.overdue"]
    assert await events_of(sessions, in_six) == ["instalment.due_soon", "instalment.due_soon"]
    statuses = await client.get(f"/v1/instalment-plans/{made.json()['id']}", headers=cast.platform)
    assert [i["status"] for i in statuses.json()["instalments"]] == ["overdue", "overdue", "scheduled", "scheduled"]
    audited = await scalar(
        sessions, "SELECT count(*) FROM audit_events WHERE entity_type = 'instalment' AND action LIKE 'instalment.%'"
    )
    assert audited == 7
    kinds = Counter(
        row
        for row in (
            await scalar(
                sessions, "SELECT string_agg(type, ',' ORDER BY seq) FROM events WHERE entity_type = 'instalment'"
            )
        ).split(",")
    )
    assert kinds == {"instalment.due_soon": 3, "instalment.due": 2, "instalment.overdue": 2}


async def test_an_overdue_instalment_is_still_paid_and_listed_as_overdue_until_then(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, admin_headers: dict[str, str]
) -> None:
    body = plan_body(cast, 1_000)
    body["instalments"][0]["due_on"] = (today() - timedelta(days=GRACE_DAYS)).isoformat()
    made = await client.post("/v1/instalment-plans", json=body, headers=cast.platform)
    instalment = made.json()["instalments"][0]["id"]
    await two_workers(sessions, today())
    async with sessions() as session:
        listed = await instalments_service.overdue_list(session, limit=10)
    assert [i.id for i, _ in listed] == [instalment]
    await top_up(client, admin_headers, cast.payer.wallet_id, 1_000)
    paid = await client.post(
        f"/v1/instalments/{instalment}/pay", json={}, headers={**cast.platform, "Idempotency-Key": "late"}
    )
    assert paid.status_code == 200, paid.text
    assert (await events_of(sessions, instalment))[-1] == "instalment.paid"
    async with sessions() as session:
        assert await instalments_service.overdue_list(session, limit=10) == []
