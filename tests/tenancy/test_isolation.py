"""Issue 10's acceptance walk: every operation of the OpenAPI document, by each
of platform A's callers, against platform B's objects of every kind, answers as
if they did not exist (or refuses the caller before looking), never with B's
data, never a 5xx, and moves nothing of B's."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.ledger import snapshot
from tests.support.operations import operations, row_counts
from tests.tenancy.footprint import MAY_GROW, marks, owned_rows, since
from tests.tenancy.walker import PUBLIC, calls, walk
from tests.tenancy.world import TwoPlatforms

Sessions = async_sessionmaker[AsyncSession]

OWN_WRITES = ["A's admin key: POST /v1/ledger/accounts", "A's platform key: POST /v1/ledger/accounts"]
"""The only writes the walk makes: a raw ledger account of A's own, opened by
each A key that may open one (its body names no object of anyone's, so there is
nothing of B's to refuse), once with B's ids and once with made-up ones."""


async def test_every_operation_by_every_caller_of_a_refuses_b(
    app: FastAPI, client: httpx.AsyncClient, sessions: Sessions, world: TwoPlatforms
) -> None:
    documented = {str(operation) for operation in operations(app)}
    assert set(PUBLIC) <= documented, "an exempt operation no longer exists: drop it from PUBLIC"
    ledger_before, rows_before, mark = await snapshot(sessions), await row_counts(sessions), await marks(sessions)
    b_before = await owned_rows(sessions, world.b.platform_id)

    walked = await walk(app, client, world.callers, world.foreign())

    assert walked.leaks == [], "\n".join(map(str, walked.leaks))
    assert walked.operations == len(documented) - len(PUBLIC)
    assert walked.calls >= walked.operations * len(world.callers)
    assert sorted(set(walked.writes)) == OWN_WRITES
    assert len(walked.writes) == 2 * len(OWN_WRITES)
    # Nothing of B's changed, to the byte; nor did the ledger but for A's new, empty accounts.
    assert await owned_rows(sessions, world.b.platform_id) == b_before
    ledger_after = await snapshot(sessions)
    opened = set(ledger_after.totals) - set(ledger_before.totals)
    assert await _accounts(sessions, opened) == [(world.a.platform_id, (0, 0, 0, 0))] * len(walked.writes)
    kept = {account: totals for account, totals in ledger_after.totals.items() if account in ledger_before.totals}
    assert replace(ledger_after, totals=kept) == ledger_before
    # Row counts: A's accounts, their audit rows, and the stored answers of A's own Idempotency-Keys.
    rows_after = await row_counts(sessions)
    assert rows_after["ledger_accounts"] == rows_before["ledger_accounts"] + len(walked.writes)
    unchanged = set(rows_before) - MAY_GROW - {"ledger_accounts"}
    assert {t: rows_after[t] for t in unchanged} == {t: rows_before[t] for t in unchanged}
    written = await since(sessions, mark, world.a.platform_id)
    assert sorted(written.audited) == sorted((world.a.platform_id, account) for account in opened)
    assert written.stored == rows_after["idempotency_keys"] - rows_before["idempotency_keys"] > 0
    assert written.stored_for_others == 0


async def _accounts(sessions: Sessions, account_ids: set[str]) -> list[tuple[str | None, tuple[int, ...]]]:
    """(platform, totals posted and pending) of each account in ``account_ids``."""
    async with sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT platform_id, debits_posted, credits_posted, debits_pending, credits_pending"
                " FROM ledger_accounts WHERE id = ANY(:ids)"
            ),
            {"ids": sorted(account_ids)},
        )
        return [(row[0], tuple(row[1:])) for row in rows]


async def test_no_key_bound_to_a_platform_creates_a_platform(
    client: httpx.AsyncClient, sessions: Sessions, world: TwoPlatforms
) -> None:
    """Not even its admin key: platforms are the installation's (global admin) business."""
    before, mark = await row_counts(sessions), await marks(sessions)
    for caller, headers in world.callers.items():
        response = await client.post(
            "/v1/platforms",
            json={"name": "Mine now", "default_currency": "XOF"},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 403, f"{caller}: {response.text}"
    after = await row_counts(sessions)
    assert {t: n for t, n in after.items() if t not in MAY_GROW} == {
        t: n for t, n in before.items() if t not in MAY_GROW
    }
    written = await since(sessions, mark, world.a.platform_id)
    assert (written.audited, written.stored_for_others) == ([], 0)


async def test_the_walk_names_real_objects(app: FastAPI, client: httpx.AsyncClient, world: TwoPlatforms) -> None:
    """A walk of ids that name nothing would pass and prove nothing: every GET the walk
    sends, by a global admin, finds B's object, and every filtered list lists some of B's."""
    objects = world.foreign()
    checked = 0
    for operation in operations(app):
        if operation.method != "GET" or str(operation) in PUBLIC:
            continue
        for call in calls(app, operation, objects):
            if not call.sent:
                continue
            response = await client.get(call.path, params=call.query, headers=world.admin)
            assert response.status_code == 200, f"{call}: {response.text}"
            if not call.names_in_path:  # a list filtered on B's object lists some of B's
                assert any(value in response.text for value in objects.values()), f"{call} shows none of B's"
            checked += 1
    assert checked >= 25
