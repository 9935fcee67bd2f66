"""Search reads its indexes (migration 0012): on a realistically sized platform,
20,000 collections and 5,000 more parties with the planner's real statistics
(ANALYZE, no planner switch turned off), no statement a search sends scans the
collections or the parties whole, for any kind of key. The timings at a million
rows are bench/search.py's, in docs/support.md."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.core import db, tenancy
from sika.core.context import Actor
from sika.search import service as search_service
from sika.search.repository import Window
from tests.tenancy.world import Sessions, TwoPlatforms

COLLECTIONS = 20_000
PARTIES = 5_000
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BIG_TABLES = ("payments_collections", "parties")

# Each collection has keys of its own (reference, Idempotency-Key); phones and emails
# repeat, as a customer pays many times; amounts and dates spread over a year.
GENERATE = (
    """INSERT INTO parties (id, platform_id, display_name, type, email, phone, country, status, created_at, updated_at)
    SELECT 'pty_' || translate(lpad(i::text, 26, '0'), '0123456789', 'klmnopqrst'), :platform,
           'Customer ' || i, 'individual',
           'customer' || i || '@example.ci', '+22501' || lpad(i::text, 8, '0'), 'CI', 'active',
           :now - mod(i, 365) * interval '1 day', :now
    FROM generate_series(1, :parties) AS i""",
    """INSERT INTO payments_collections (id, party_id, wallet_id, platform_id, amount_minor, currency, method,
      operator, phone, country, customer_email, description, status, provider, provider_reference, created_by,
      idempotency_key, created_at, updated_at, completed_at)
    SELECT 'col_' || translate(lpad(i::text, 26, '0'), '0123456789', 'klmnopqrst'), :party, :wallet, :platform,
           100 * (1 + mod(i, 5000)),
           'XOF', 'mobile_money', 'mtn', '+22507' || lpad(mod(i, 9000)::text, 8, '0'), 'CI',
           'payer' || mod(i, 3000) || '@example.ci', '', 'failed', 'paystack', 'PSK_' || md5(i::text),
           'key:generated', 'order-' || i, :now - mod(i, 525600) * interval '1 minute', :now, :now
    FROM generate_series(1, :collections) AS i""",
)

_ID_DIGITS = str.maketrans("0123456789", "klmnopqrst")
"""Digits as letters, as in ``GENERATE``: a generated id has the shape of Sika's, so search reads it as one."""
MIDDLE = COLLECTIONS // 2
SEARCHES: dict[str, tuple[str | None, Window]] = {
    "collection id": ("col_" + f"{MIDDLE:026d}".translate(_ID_DIGITS), Window()),
    "phone, E.164": (f"+22507{MIDDLE % 9000:08d}", Window()),
    "phone, last 6 digits": (f"{MIDDLE % 9000:08d}"[-6:], Window()),
    "party phone": (f"+22501{PARTIES // 2:08d}", Window()),
    "customer email": (f"payer{MIDDLE % 3000}@example.ci", Window()),
    "party email": (f"Customer{PARTIES // 2}@example.ci", Window()),
    "provider reference": ("PSK_" + hashlib.md5(str(MIDDLE).encode()).hexdigest(), Window()),  # noqa: S324
    "idempotency key": (f"order-{MIDDLE}", Window()),
    "amount in a week": (
        None,
        Window(amount_minor=100 * (1 + MIDDLE % 5000), since=NOW - timedelta(days=7), until=NOW),
    ),
}


@pytest.fixture
async def generated(world: TwoPlatforms, sessions: Sessions, engine: AsyncEngine) -> str:
    """B's platform, grown to a realistic size, with fresh statistics; its id."""
    b = world.b
    values = {"platform": b.platform_id, "party": b.ids["party_id"], "wallet": b.ids["wallet_id"], "now": NOW}
    async with sessions.begin() as session:
        await session.execute(sa.text(GENERATE[0]), {**values, "parties": PARTIES})
        await session.execute(sa.text(GENERATE[1]), {**values, "collections": COLLECTIONS})
    async with engine.begin() as connection:  # committed: statistics a rollback would undo
        await connection.exec_driver_sql("ANALYZE")
    return b.platform_id


async def _plans(engine: AsyncEngine, platform_id: str, query: str | None, within: Window) -> tuple[Any, list[str]]:
    """What a support key bound to the platform finds, and the plan of every statement the search sent."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    actor = Actor(id="support", scopes=frozenset({"support"}), platform_id=platform_id)
    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.read_only_transaction(db.make_sessionmaker(engine)) as session:
            tenancy.bind(session, platform_id)
            found = await search_service.search(session, query=query, within=within, actor=actor, now=NOW)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    plans = []
    async with engine.connect() as connection:
        for statement, parameters in sent:
            explained = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plans.append("\n".join(row[0] for row in explained))
    return found, plans


@pytest.mark.parametrize("name", SEARCHES)
async def test_no_search_scans_a_big_table_whole(name: str, generated: str, engine: AsyncEngine) -> None:
    query, within = SEARCHES[name]
    found, plans = await _plans(engine, generated, query, within)
    assert found.collections.data or found.parties.data, f"{name}: the generated row was not found"
    assert plans, f"{name}: no statement was sent"
    for plan in plans:
        for table in BIG_TABLES:
            assert f"Seq Scan on {table}" not in plan, f"{name} scans {table} whole:\n{plan}"
