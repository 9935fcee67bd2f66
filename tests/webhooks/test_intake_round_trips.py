"""The intake's round trips: a new event is stored and its job deferred by one
statement, with procrastinate's own values; a duplicate's statement stores
nothing and defers nothing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.core import db
from sika.jobs import app as jobs_app
from sika.webhooks import service as webhooks_service
from tests.support.payments import World, count
from tests.webhooks.test_intake import JOBS, PROCESS_JOBS, charge_success, post, signed

EVENTS = "webhooks_inbound_events"
# What a job row holds besides its id and arguments; compared with one deferred by procrastinate's ``defer``.
JOB_COLUMNS = "queue_name, task_name, priority, lock, queueing_lock, status, scheduled_at, attempts, worker_id"


async def job_of(world: World, event_id: str) -> sa.Row[tuple[object, ...]]:
    query = f"SELECT {JOB_COLUMNS} FROM {JOBS} WHERE {PROCESS_JOBS} AND args ->> 'event_id' = :id"  # noqa: S608
    async with world.sessions() as session:
        return (await session.execute(sa.text(query), {"id": event_id})).one()


async def test_a_new_event_is_stored_and_queued_by_one_statement_in_one_commit(
    world: World, engine: AsyncEngine
) -> None:
    body, headers = signed("paystack", charge_success("col_round_trip", charge_id=7_000_001), world.settings)

    with db.statements_sent(engine) as sent:
        response = await post(world.client, "paystack", body, headers)

    assert response.status_code == 200, response.text
    assert sent == ["WITH stored AS", "COMMIT"], sent
    query = f"SELECT id, status FROM {EVENTS} WHERE body = :body"  # noqa: S608
    async with world.sessions() as session:
        stored = (await session.execute(sa.text(query), {"body": body})).one()
    assert stored.status == "received"
    # The job is the one procrastinate's own defer writes for the task, but for its id and arguments.
    async with db.transaction(world.sessions) as session:
        await jobs_app.defer(session, webhooks_service.PROCESS_EVENT_TASK, event_id="whe_reference")
    assert await job_of(world, stored.id) == await job_of(world, "whe_reference")
    assert (await job_of(world, stored.id)).queue_name == webhooks_service.WEBHOOKS_QUEUE


async def test_a_duplicate_stores_nothing_and_defers_nothing_in_its_statement(
    world: World, engine: AsyncEngine
) -> None:
    body, headers = signed("paystack", charge_success("col_round_trip", charge_id=7_000_002), world.settings)
    assert (await post(world.client, "paystack", body, headers)).status_code == 200
    before = await world.footprint()

    with db.statements_sent(engine) as sent:
        response = await post(world.client, "paystack", body, headers)

    assert response.json() == {"received": True, "duplicate": True}
    # The statement that stores and defers finds the event, then the stored event's id is read.
    assert sent == ["WITH stored AS", "SELECT webhooks_inbound_events.id FROM", "COMMIT"], sent
    assert await world.footprint() == before
    assert await count(world.sessions, JOBS, PROCESS_JOBS) == 1
