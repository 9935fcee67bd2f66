"""The pages show what is in the database: data made through the services,
then every number on each page compared with the exact value expected and
with the database read directly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from sika.core.config import Settings
from sika.dashboard import i18n
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD
from tests.dashboard.world import COLLECTION_DAYS_AGO, PAYOUTS, TOP_UP_MINOR, World

PAGES = ("/", "/alerts", "/alerts?status=all", "/payments/stuck", "/webhooks", "/escrows", "/proofs", "/mandates")


async def _scalar(sessions: async_sessionmaker[AsyncSession], sql: str, **params: object) -> int:
    async with db.transaction(sessions) as session:
        return int(await session.scalar(sa.text(sql), params) or 0)


async def test_overview_tiles_equal_the_database(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    page = (await operator.get(f"{DASHBOARD}/")).text
    stuck_before = datetime.now(UTC) - timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)

    open_alerts = await _scalar(sessions, "SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL")
    assert open_alerts == 3 == len(world.open_alert_ids)
    assert pages.tile(page, "alerts") == ("3", "")

    stuck_collections = await _scalar(
        sessions,
        "SELECT count(*) FROM payments_collections WHERE completed_at IS NULL AND created_at < :before",
        before=stuck_before,
    )
    stuck_payouts = await _scalar(
        sessions,
        "SELECT count(*) FROM payments_payouts WHERE completed_at IS NULL AND created_at < :before",
        before=stuck_before,
    )
    assert (stuck_collections, stuck_payouts) == (4, 1)
    assert pages.tile(page, "stuck") == ("5", "Collections: 4 · payouts: 1, not final after 5 min")

    waiting = await _scalar(sessions, "SELECT count(*) FROM webhooks_inbound_events WHERE status = 'received'")
    failed = await _scalar(sessions, "SELECT count(*) FROM webhooks_inbound_events WHERE status = 'failed'")
    assert (waiting, failed) == (1, 1)
    assert pages.tile(page, "webhooks") == ("1", "Waiting: 1 · failed: 1")
    assert pages.tile(page, "ledger") == ("ok", "")


async def test_ledger_health_and_totals_equal_the_database(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = (await operator.get(f"{DASHBOARD}/")).text
    assert "All the ledger's invariants hold." in pages.text(page)
    for name in ("balanced", "account_totals", "balance_flags", "transfer_accounts", "resolutions", "timeouts"):
        assert pages.row_cells(page, "data-check", name)[1:] == ["ok", "0"]

    held = sum(amount for _, amount in PAYOUTS)
    async with db.transaction(sessions) as session:
        row = (
            await session.execute(
                sa.text(
                    "SELECT count(*), sum(debits_posted), sum(credits_posted), sum(debits_pending), "
                    "sum(credits_pending) FROM ledger_accounts WHERE currency = 'XOF'"
                )
            )
        ).one()
        currencies = (await session.scalars(sa.text("SELECT DISTINCT currency FROM ledger_accounts"))).all()
    assert currencies == ["XOF"]
    accounts, debits_posted, credits_posted, debits_pending, credits_pending = (int(v) for v in row)
    # Posted: the top-up. Pending: the two payouts' holds (their provider has not answered finally).
    assert (debits_posted, credits_posted, debits_pending, credits_pending) == (TOP_UP_MINOR, TOP_UP_MINOR, held, held)
    assert pages.row_cells(page, "data-currency", "XOF") == [
        "XOF",
        str(accounts),
        "100,000",
        "100,000",
        "12,000",
        "12,000",
    ]


async def test_a_breached_invariant_shows_as_breached(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Totals tampered with behind the ledger's back (the only way to breach it) turn the page red."""
    async with db.transaction(sessions) as session:
        tampered = await session.execute(
            sa.text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 "
                "WHERE owner_id = :party AND kind = 'wallet'"
            ),
            {"party": world.party_id},
        )
        assert isinstance(tampered, sa.CursorResult)
        assert tampered.rowcount == 1
    page = (await operator.get(f"{DASHBOARD}/")).text
    assert pages.tile(page, "ledger") == ("breached", "")
    assert pages.row_cells(page, "data-check", "balanced")[1:] == ["breached", "1"]
    assert pages.row_cells(page, "data-check", "account_totals")[1:] == ["breached", "1"]
    assert pages.row_cells(page, "data-check", "timeouts")[1:] == ["ok", "0"]
    assert "The ledger's invariants are breached" in pages.text(page)


async def test_the_chart_draws_each_day_s_collections_payouts_and_escrows(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = (await operator.get(f"{DASHBOARD}/")).text
    today = world.now.astimezone(UTC).date()
    days = [today - timedelta(days=offset) for offset in range(13, -1, -1)]
    expected: dict[tuple[str, str], int] = {}
    for day in days:
        expected[(day.isoformat(), "collections")] = sum(
            1 for ago in COLLECTION_DAYS_AGO if (world.now - timedelta(days=ago)).astimezone(UTC).date() == day
        )
        expected[(day.isoformat(), "payouts")] = sum(
            1 for ago, _ in PAYOUTS if (world.now - timedelta(days=ago)).astimezone(UTC).date() == day
        )
        expected[(day.isoformat(), "escrows")] = sum(
            1 for at in world.escrows.values() if at.astimezone(UTC).date() == day
        )
    assert pages.bars(page) == expected
    # The collection 20 days old is outside the chart; the database agrees day by day.
    assert sum(v for (_, series), v in expected.items() if series == "collections") == len(COLLECTION_DAYS_AGO) - 1
    async with db.transaction(sessions) as session:
        for table, series in (
            ("payments_collections", "collections"),
            ("payments_payouts", "payouts"),
            ("escrows", "escrows"),
        ):
            rows = await session.execute(
                sa.text(
                    f"SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM {table} "  # noqa: S608
                    "WHERE created_at >= :since GROUP BY 1"
                ),
                {"since": datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)},
            )
            in_database = {(day.isoformat(), series): int(count) for day, count in rows}
            assert in_database == {key: v for key, v in expected.items() if key[1] == series and v}
    # Heights are proportional: the scale's top is 4 (two collections fill half of it).
    heights = pages.bar_heights(page)
    three_days_ago = (today - timedelta(days=3)).isoformat()
    assert heights[(three_days_ago, "collections")] == 2 * heights[(today.isoformat(), "collections")] == 112.0
    assert heights[(three_days_ago, "payouts")] == 0.0
    yesterday = (today - timedelta(days=1)).isoformat()
    assert heights[(yesterday, "escrows")] == 2 * heights[(today.isoformat(), "escrows")] == 112.0
    cells = pages.row_cells(page, "data-day", today.isoformat())
    assert cells == [i18n.day(today, "en"), "1", "1", "1"]
    assert "4 collections, 2 payouts and 4 escrows created from" in page


async def test_stuck_payments_lists_open_ones_older_than_the_threshold(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = (await operator.get(f"{DASHBOARD}/payments/stuck")).text
    # Oldest first; two made at the same instant come in the order they were made.
    stuck_collections = sorted(
        ((at, cid) for cid, at in world.collections.items() if world.now - at > timedelta(minutes=5)),
        key=lambda item: item[0],
    )
    assert pages.row_ids(page, "stuck-collections", "data-id") == [cid for _, cid in stuck_collections]
    assert len(stuck_collections) == 4
    stuck_payouts = [pid for pid, at in world.payouts.items() if world.now - at > timedelta(minutes=5)]
    assert pages.row_ids(page, "stuck-payouts", "data-id") == stuck_payouts
    assert "Collections (4)" in page
    assert "Payouts (1)" in page

    oldest_id = stuck_collections[0][1]
    cells = pages.row_cells(page, "data-id", oldest_id)
    assert cells[:5] == [oldest_id, "paystack", "action required", "2,500 XOF", world.party_id]
    assert cells[6].startswith("20 d")
    assert cells[7] == "never"
    payout_cells = pages.row_cells(page, "data-id", stuck_payouts[0])
    assert payout_cells[:4] == [stuck_payouts[0], "paystack", "processing", "5,000 XOF"]
    assert payout_cells[6].startswith("2 d")

    async with db.transaction(sessions) as session:
        rows = await session.execute(sa.text("SELECT id, status FROM payments_collections"))
        statuses = {collection_id: status for collection_id, status in rows}
    assert [statuses[cid] for _, cid in stuck_collections] == ["action_required"] * 4


async def test_webhook_backlog_counts_each_provider_s_events_by_state(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = (await operator.get(f"{DASHBOARD}/webhooks")).text
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.text("SELECT provider, status, count(*) FROM webhooks_inbound_events GROUP BY 1, 2")
        )
        in_database = {(provider, status): int(count) for provider, status, count in rows}
    assert in_database == {
        ("paystack", "received"): 1,
        ("paystack", "unmatched"): 1,
        ("paystack", "failed"): 1,
        ("fedapay", "rejected"): 1,
    }
    zero = {"received": "0", "processed": "0", "ignored": "0", "unmatched": "0", "rejected": "0", "failed": "0"}
    assert pages.status_cells(page, "paystack") == {
        **zero,
        "total": "3",
        "received": "1",
        "unmatched": "1",
        "failed": "1",
    }
    assert pages.status_cells(page, "fedapay") == {**zero, "total": "1", "rejected": "1"}
    assert pages.status_cells(page, "stripe") == {**zero, "total": "0"}
    # The waiting event arrived as the test began: seconds ago. FedaPay has none waiting.
    assert re.fullmatch(r"\d+ s", pages.row_cells(page, "data-provider", "paystack")[-1])
    assert pages.row_cells(page, "data-provider", "fedapay")[-1] == "—"
    attention = {
        event: pages.row_cells(page, "data-event", event) for event in pages.row_ids(page, "attention", "data-event")
    }
    assert sorted((cells[1], cells[4]) for cells in attention.values()) == [
        ("fedapay", "rejected"),
        ("paystack", "failed"),
        ("paystack", "unmatched"),
    ]
    failed = next(cells for cells in attention.values() if cells[4] == "failed")
    assert failed[5:] == ["col_failing", "1", "provider lookup timed out", "Reason Process again"]


async def test_alerts_page_filters_open_and_acknowledged(operator: httpx.AsyncClient, world: World) -> None:
    open_page = (await operator.get(f"{DASHBOARD}/alerts")).text
    assert pages.row_ids(open_page, "alerts", "data-alert") == list(world.open_alert_ids)
    acknowledged = (await operator.get(f"{DASHBOARD}/alerts?status=acknowledged")).text
    assert pages.row_ids(acknowledged, "alerts", "data-alert") == [world.acknowledged_alert_id]
    assert "Acknowledged by test at" in pages.text(acknowledged)
    every = (await operator.get(f"{DASHBOARD}/alerts?status=all")).text
    assert sorted(pages.row_ids(every, "alerts", "data-alert")) == sorted(
        [*world.open_alert_ids, world.acknowledged_alert_id]
    )
    assert (await operator.get(f"{DASHBOARD}/alerts?status=closed")).status_code == 400


async def test_pages_write_nothing(
    operator: httpx.AsyncClient, world: World, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Reading pages leaves the audit log and every money table as they were."""
    counts_sql = (
        "SELECT (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM ledger_transfers) * 1000 "
        "+ (SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL) * 1000000"
    )
    before = await _scalar(sessions, counts_sql)
    for path in PAGES:
        assert (await operator.get(f"{DASHBOARD}{path}")).status_code == 200
    assert await _scalar(sessions, counts_sql) == before


async def test_pages_have_the_security_headers_and_no_inline_code(operator: httpx.AsyncClient) -> None:
    """The CSP allows only 'self': no inline script or style may appear, or the browser would refuse it."""
    for path in PAGES:
        response = await operator.get(f"{DASHBOARD}{path}")
        assert response.headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "<script" not in response.text
        assert " style=" not in response.text
        assert "<style" not in response.text
        assert re.search(r"(src|href)=\"(https?:)?//", response.text) is None, "everything is served locally"
    css = await operator.get(f"{DASHBOARD}/static/dashboard.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".bar-collections" in css.text


async def test_the_pages_transactions_refuse_to_write(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The guard every page reads under: a write slipped into a page would fail, not land."""
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
        async with db.read_only_transaction(sessions) as session:
            await session.execute(sa.text("DELETE FROM alerts"))
    async with db.read_only_transaction(sessions) as session:
        assert await session.scalar(sa.text("SELECT current_setting('transaction_read_only')")) == "on"
