"""Search at scale: the queries behind ``GET /v1/search``, explained and timed at
the database on a large generated dataset.

    .venv/bin/python bench/search.py [--collections 1000000] [--parties 100000] [--without-search-indexes]

Starts its own PostgreSQL (pgserver, in a temporary folder) and migrates it,
makes one platform with a few hundred parties and wallets through the services,
then generates ``--parties`` more parties and ``--collections`` collections
with SQL (each with a phone, an email, a provider reference and an
Idempotency-Key of its own, amounts and dates spread over a year), and
analyzes the tables. For each kind of key it runs the search service once, as
a support key bound to the platform would, records every statement it sends,
and runs each again under ``EXPLAIN (ANALYZE, BUFFERS)``.

The database is migrated to the revision before 0012 and filled; then 0012
builds the indexes search reads (docs/support.md) on the filled tables, as an
installation upgrading would, and its duration is reported.
``--without-search-indexes`` stops before 0012, so two runs compare the plans
without and with them.

Prints JSON: per key, the service's wall time and, per statement, the
database's execution time and its plan. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from sika.core import db, migrate, tenancy
from sika.core.context import Actor
from sika.parties import schemas as parties_schemas
from sika.parties import service as parties_service
from sika.platforms import schemas as platforms_schemas
from sika.platforms import service as platforms_service
from sika.search import service as search_service
from sika.search.repository import Window
from sika.wallets import service as wallets_service

ADMIN = Actor(id="bench", scopes=frozenset({"admin"}), request_id="bench")
WALLETS = 200
"""Parties made through the services, each with an XOF wallet; the collections are spread over them."""
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

BEFORE_SEARCH_INDEXES = "0011"
"""The revision before migration 0012, which builds search's indexes (docs/support.md)."""


async def setup(engine: AsyncEngine) -> tuple[str, list[tuple[str, str]]]:
    """One platform, and ``WALLETS`` parties with a wallet each, through the services."""
    sessions = db.make_sessionmaker(engine)
    async with db.transaction(sessions) as session:
        body = platforms_schemas.PlatformCreate(name="Bench", default_currency="XOF")
        platform = await platforms_service.create_platform(session, body=body, actor=ADMIN, now=NOW)
        platform_id = platform.id
    owners = []
    for index in range(WALLETS):
        async with db.transaction(sessions) as session:
            party = await parties_service.create_party(
                session,
                body=parties_schemas.PartyCreate(
                    display_name=f"Owner {index}",
                    type=parties_schemas.PartyType.business,
                    country="CI",
                    platform_id=platform_id,
                ),
                actor=ADMIN,
                now=NOW,
            )
            view = await wallets_service.open_wallet(session, party_id=party.id, currency="XOF", actor=ADMIN, now=NOW)
            owners.append((party.id, view.wallet.id))
    return platform_id, owners


GENERATE = (
    "CREATE TEMPORARY TABLE bench_owners (n integer PRIMARY KEY, party_id text, wallet_id text)",
    """INSERT INTO bench_owners SELECT ordinality - 1, party_id, wallet_id
    FROM unnest(%(parties)s::text[], %(wallets)s::text[]) WITH ORDINALITY AS o(party_id, wallet_id)""",
    """INSERT INTO parties (id, platform_id, display_name, type, email, phone, country, status, created_at, updated_at)
    SELECT 'pty_' || translate(lpad(to_hex(i), 26, '0'), '0123456789', 'klmnopqrst'), %(platform)s,
           'Customer ' || i, 'individual',
           'customer' || i || '@example.ci', '+22501' || lpad(i::text, 8, '0'), 'CI', 'active',
           %(now)s - mod(i, 365) * interval '1 day', %(now)s
    FROM generate_series(1, %(party_count)s) AS i""",
    """INSERT INTO payments_collections (id, party_id, wallet_id, platform_id, amount_minor, currency, method,
      operator, phone, country, customer_email, description, status, provider, provider_reference, created_by,
      idempotency_key, created_at, updated_at, completed_at)
    SELECT 'col_' || translate(lpad(to_hex(i), 26, '0'), '0123456789', 'klmnopqrst'), o.party_id, o.wallet_id,
           %(platform)s, 100 * (1 + mod(i, 5000)),
           'XOF', 'mobile_money', 'mtn', '+22507' || lpad(mod(i, 900000)::text, 8, '0'), 'CI',
           'payer' || mod(i, 300000) || '@example.ci', '', CASE WHEN mod(i, 3) = 0 THEN 'processing' ELSE 'failed' END,
           'paystack', 'PSK_' || md5(i::text), 'bench', 'order-' || i, %(now)s - mod(i, 525600) * interval '1 minute',
           %(now)s, CASE WHEN mod(i, 3) = 0 THEN NULL ELSE %(now)s END
    FROM generate_series(1, %(collection_count)s) AS i JOIN bench_owners o ON o.n = mod(i, %(owners)s)""",
)
"""Parties and collections, each with keys of its own: phones and emails repeat (a
customer pays many times), references and Idempotency-Keys do not."""


def generate(url: str, *, platform_id: str, owners: list[tuple[str, str]], parties: int, collections: int) -> None:
    values = {
        "parties": [party for party, _ in owners],
        "wallets": [wallet for _, wallet in owners],
        "platform": platform_id,
        "now": NOW,
        "party_count": parties,
        "collection_count": collections,
        "owners": len(owners),
    }
    with psycopg.connect(db.libpq_url(url), autocommit=True) as connection:
        for statement in GENERATE:
            connection.execute(statement, {name: value for name, value in values.items() if f"%({name})s" in statement})
        connection.execute("VACUUM ANALYZE")


def build_search_indexes(url: str) -> float:
    """Migration 0012 on the filled tables, as an installation upgrading would run it; its
    duration in seconds. Then statistics for the indexed expressions (reverse(phone), lower(email))."""
    started = time.perf_counter()
    migrate.upgrade(url)
    built_in = round(time.perf_counter() - started, 1)
    with psycopg.connect(db.libpq_url(url), autocommit=True) as connection:
        connection.execute("ANALYZE")
    return built_in


_ID_DIGITS = str.maketrans("0123456789", "klmnopqrst")
"""Hex digits as letters, so a generated id has the shape of Sika's (``[a-z2-7]{26}``), as in ``GENERATE``."""


def searches(collections: int) -> dict[str, tuple[str | None, Window]]:
    """A key of each kind, naming rows the generator made."""
    middle = collections // 2
    return {
        "collection id": ("col_" + format(middle, "x").rjust(26, "0").translate(_ID_DIGITS), Window()),
        "phone (E.164)": ("+22507" + str(middle % 900000).rjust(8, "0"), Window()),
        "phone (last 6 digits)": (str(middle % 900000).rjust(8, "0")[-6:], Window()),
        "customer email": (f"payer{middle % 300000}@example.ci", Window()),
        "provider reference": ("PSK_" + hashlib.md5(str(middle).encode()).hexdigest(), Window()),  # noqa: S324
        "idempotency key": (f"order-{middle}", Window()),
        "amount in a week": (
            None,
            Window(amount_minor=100 * (1 + middle % 5000), since=NOW - timedelta(days=7), until=NOW),
        ),
    }


async def explain(engine: AsyncEngine, platform_id: str, query: str | None, within: Window) -> dict[str, Any]:
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sessions = db.make_sessionmaker(engine)
    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.read_only_transaction(sessions) as session:
            tenancy.bind(session, platform_id)
            actor = Actor(id="bench-support", scopes=frozenset({"support"}), platform_id=platform_id)
            started = time.perf_counter()
            results = await search_service.search(session, query=query, within=within, actor=actor, now=NOW)
            wall_ms = (time.perf_counter() - started) * 1000
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    plans = []
    async with engine.connect() as connection:
        for statement, parameters in statements:
            raw = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            lines = [row[0] for row in raw]
            execution = next(line for line in lines if line.startswith("Execution Time"))
            plans.append({"execution": execution, "plan": lines})
    found = {kind: len(getattr(results, kind).data) for kind in ("parties", "collections", "payouts")}
    return {"query": query, "wall_ms": round(wall_ms, 1), "found": found, "statements": plans}


async def measure(url: str, platform_id: str, collections: int) -> dict[str, Any]:
    engine = db.make_engine(url, pool_size=2, max_overflow=0)
    try:
        return {
            name: await explain(engine, platform_id, query, within)
            for name, (query, within) in searches(collections).items()
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", type=int, default=1_000_000)
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument(
        "--without-search-indexes", action="store_true", help="Stop before migration 0012 (search's indexes)."
    )
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="sika-bench-pg-"))
    embedded = db.EmbeddedPostgres(data_dir=data_dir)
    try:
        server_url = embedded.start()
        with psycopg.connect(db.libpq_url(server_url), autocommit=True) as connection:
            connection.execute("CREATE DATABASE sika_bench")
        url = server_url.replace("/postgres?", "/sika_bench?")
        migrate.upgrade(url, BEFORE_SEARCH_INDEXES)
        engine = db.make_engine(url, pool_size=1, max_overflow=0)
        platform_id, owners = asyncio.run(setup(engine))
        started = time.perf_counter()
        generate(url, platform_id=platform_id, owners=owners, parties=args.parties, collections=args.collections)
        print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        built_in = None if args.without_search_indexes else build_search_indexes(url)
        report = {
            "collections": args.collections,
            "parties": args.parties + WALLETS,
            "search_indexes_built_in_s": built_in,
            "searches": asyncio.run(measure(url, platform_id, args.collections)),
        }
        print(json.dumps(report, indent=2))
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
