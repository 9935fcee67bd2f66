"""Upgrading a database migrated at the head before tenancy (0009) keeps every
row, under the default platform where a platform owns it, with ``sika check``
clean; the migration goes down and up again with the same result, and a
platform key of the old installation keeps working through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from rich.console import Console
from typer.testing import CliRunner

from sika import cli
from sika import worker as jobs_worker
from sika.app import create_app
from sika.core import db, invariants, migrate
from sika.core.config import Environment, Settings, get_settings
from tests.support import database
from tests.tenancy.upgrade_world import PREVIOUS_REVISION, World, fill

DEFAULT = "plt_default"
OWNED = ("parties", "wallets", "wallet_holds", "payments_collections", "payments_payouts")
SOMETIMES_OWNED = ("auth_api_keys", "ledger_accounts", "audit_events", "events", "alerts", "webhooks_inbound_events")


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    name = database.create_empty(pg_url)
    yield database.with_database(pg_url, name)
    database.drop(pg_url, name)


@pytest.fixture
def sika_check() -> Iterator[None]:
    """``sika check`` reads its database from the settings, which are cached per process:
    cleared around the test so that neither it nor the next test sees the other's."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _rows(url: str, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(db.libpq_url(url)) as conn:
        return conn.execute(query, params).fetchall()


def _counts(url: str) -> dict[str, int]:
    tables = [
        str(row[0])
        for row in _rows(
            url,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('alembic_version', 'platforms') AND tablename NOT LIKE 'procrastinate%%'",
        )
    ]
    return {table: int(str(_rows(url, f"SELECT count(*) FROM {table}")[0][0])) for table in tables}  # noqa: S608


def _platforms(url: str, table: str, key: str = "id") -> dict[str, object]:
    return {str(k): p for k, p in _rows(url, f"SELECT {key}, platform_id FROM {table}")}  # noqa: S608


def _expected_audit(world: World, entity_type: str, entity_id: str) -> str | None:
    """The migration's docstring: party objects and transfers are the platform's, and
    accounts and keys follow their own platform; the rest is the installation's."""
    if entity_type in ("party", "wallet", "hold", "collection", "payout", "ledger_transfer"):
        return DEFAULT
    if entity_type == "ledger_account":
        return DEFAULT if entity_id in world.platform_accounts else None
    if entity_type == "api_key":
        return DEFAULT if entity_id == world.platform_key else None
    return None


def _assert_under_default_platform(url: str, world: World) -> None:
    assert _rows(url, "SELECT id FROM platforms") == [(DEFAULT,)]
    for table in OWNED:
        assert set(_platforms(url, table).values()) == {DEFAULT}, table
    assert _platforms(url, "auth_api_keys") == {
        world.admin_key: None,
        world.read_key: None,
        world.platform_key: DEFAULT,
    }
    accounts = _platforms(url, "ledger_accounts")
    assert accounts == {account: DEFAULT for account in world.platform_accounts} | dict.fromkeys(world.system_accounts)
    assert set(_platforms(url, "events").values()) == {DEFAULT}
    assert _platforms(url, "alerts") == {world.collection_alert: DEFAULT, world.invariant_alert: None}
    assert _platforms(url, "webhooks_inbound_events") == {world.matched_webhook: DEFAULT, world.unmatched_webhook: None}
    audit = _rows(url, "SELECT entity_type, entity_id, platform_id FROM audit_events")
    assert {"party", "wallet", "ledger_transfer", "ledger_account", "api_key", "collection", "payout", "alert"} <= {
        row[0] for row in audit
    }
    wrong = [row for row in audit if row[2] != _expected_audit(world, str(row[0]), str(row[1]))]
    assert wrong == []


def _assert_check_clean(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    # A wide console: the one made at import took the width of whatever ran the tests.
    monkeypatch.setattr(cli, "console", Console(width=250))
    get_settings.cache_clear()
    result = CliRunner().invoke(cli.app, ["check"])
    assert result.exit_code == 0, result.output
    assert "invariants hold" in result.output
    assert "BREACHED" not in result.output
    # Every domain's checks ran, not some.
    assert all(found.description in result.output for found in invariants.load())


def _assert_kept(url: str, before: dict[str, int]) -> None:
    """Every table that was there keeps its rows; those of later migrations (escrow, 0011) come empty."""
    after = _counts(url)
    assert {table: after[table] for table in before} == before
    assert {table: count for table, count in after.items() if table not in before} == dict.fromkeys(
        set(after) - set(before), 0
    )


def _platform_columns(url: str) -> list[tuple[object, ...]]:
    return _rows(url, "SELECT table_name FROM information_schema.columns WHERE column_name = 'platform_id'")


def test_upgrade_keeps_every_row_under_the_default_platform(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, sika_check: None
) -> None:
    url = empty_database_url
    migrate.upgrade(url, PREVIOUS_REVISION)
    world = fill(url)
    before = _counts(url)
    assert all(before[table] > 0 for table in (*OWNED, *SOMETIMES_OWNED, "ledger_transfers", "wallet_open_holds"))
    assert before["ledger_pending_timeouts"] == 1

    migrate.upgrade(url)
    _assert_kept(url, before)
    _assert_under_default_platform(url, world)
    _assert_check_clean(url, monkeypatch)

    migrate.downgrade(url, PREVIOUS_REVISION)
    assert _counts(url) == before
    assert _platform_columns(url) == []
    assert _rows(url, "SELECT to_regclass('platforms')") == [(None,)]

    migrate.upgrade(url)
    _assert_kept(url, before)
    _assert_under_default_platform(url, world)
    _assert_check_clean(url, monkeypatch)

    asyncio.run(_use_the_old_platform_key(url, world))
    _assert_check_clean(url, monkeypatch)


async def _use_the_old_platform_key(url: str, world: World) -> None:
    """The upgraded installation's platform key lists its old parties and holds money in an old wallet."""
    settings = Settings(ENV=Environment.test, RATE_LIMIT_PER_KEY="1000/minute", RATE_LIMIT_PER_ADDRESS="1000/minute")
    engine = db.make_engine(url, pool_size=2, max_overflow=2)
    jobs_worker.build(url)
    headers = {"Authorization": f"Bearer {world.platform_secret}"}
    try:
        transport = httpx.ASGITransport(app=create_app(settings, database_url=url, engine=engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://sika.test") as client:
            parties = await client.get("/v1/parties", headers=headers)
            assert parties.status_code == 200, parties.text
            assert {party["id"] for party in parties.json()["data"]} == {world.alice, world.bob}

            hold = await client.post(
                f"/v1/wallets/{world.alice_wallet}/holds",
                json={"amount_minor": 1_000, "reason": "first order after the upgrade"},
                headers={**headers, "Idempotency-Key": "after-upgrade-1"},
            )
            assert hold.status_code == 201, hold.text
            wallet = await client.get(f"/v1/wallets/{world.alice_wallet}", headers=headers)
            assert wallet.status_code == 200, wallet.text
    finally:
        await engine.dispose()
    hold_id = hold.json()["id"]
    assert _rows(url, "SELECT platform_id FROM wallet_holds WHERE id = %s", hold_id) == [(DEFAULT,)]
    # 100 000 topped up, 20 000 captured, 10 000 and now 1 000 held.
    body = wallet.json()
    assert (body["balance_minor"], body["available_minor"]) == (80_000, 69_000), body
