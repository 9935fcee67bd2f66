"""Migrations go up, down and up again on an empty database, and the models
and the migrations describe the same schema."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sika.core import db, migrate
from sika.db_models import Base
from tests.support import database


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    name = database.create_empty(pg_url)
    yield database.with_database(pg_url, name)
    database.drop(pg_url, name)


def _tables(url: str) -> set[str]:
    with psycopg.connect(db.libpq_url(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def _drift(url: str) -> list[object]:
    engine = sa.create_engine("postgresql+psycopg://" + db.libpq_url(url).split("://", 1)[1])
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, compare_to: (
                        not (type_ == "table" and name is not None and name.startswith("procrastinate_"))
                    ),
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_up_down_up_on_an_empty_database(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    after_up = _tables(empty_database_url)
    assert {"auth_api_keys", "audit_events", "idempotency_keys", "alerts", "procrastinate_jobs"} <= after_up

    migrate.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == {"alembic_version"}

    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == after_up


def test_models_and_migrations_do_not_drift(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    assert _drift(empty_database_url) == []


def _schema(url: str) -> set[tuple[str, str]]:
    """Every table, index, view, function, trigger and type in the public schema, by kind and name."""
    query = """
        SELECT 'table', tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'
        UNION ALL SELECT 'index', indexname FROM pg_indexes
            WHERE schemaname = 'public' AND tablename <> 'alembic_version'
        UNION ALL SELECT 'view', viewname FROM pg_views WHERE schemaname = 'public'
        UNION ALL SELECT 'function', p.oid::regprocedure::text FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
        UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal
        UNION ALL SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c') AND t.typrelid = 0
    """
    with psycopg.connect(db.libpq_url(url)) as conn:
        return {(str(kind), str(name)) for kind, name in conn.execute(query).fetchall()}


def test_each_downgrade_undoes_exactly_its_upgrade(empty_database_url: str) -> None:
    """Walk up one revision at a time recording the schema, then down one at a
    time: each step down must give back exactly the schema of the step before."""
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert len(revisions) >= 4
    schemas = {"base": _schema(empty_database_url)}
    for revision in revisions:
        migrate.upgrade(empty_database_url, revision)
        schemas[revision] = _schema(empty_database_url)
    for previous, revision in reversed(list(zip(["base", *revisions], revisions, strict=False))):
        migrate.downgrade(empty_database_url, previous)
        assert _schema(empty_database_url) == schemas[previous], f"downgrade of {revision} left or lost objects"


def _index_states(url: str, names: tuple[str, ...]) -> dict[str, bool]:
    """Each named index that exists, and whether PostgreSQL reads it (valid)."""
    query = "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    with psycopg.connect(db.libpq_url(url)) as conn:
        return {str(name): bool(valid) for name, valid in conn.execute(query).fetchall() if name in names}


def test_search_indexes_rebuild_an_invalid_leftover_and_keep_one_built_ahead(empty_database_url: str) -> None:
    """0012 builds concurrently, outside a transaction: a failed run leaves an invalid index,
    which the next run must build again, and an operator may have built one ahead by hand."""
    migrate.upgrade(empty_database_url, "0011")
    with psycopg.connect(db.libpq_url(empty_database_url), autocommit=True) as conn:
        conn.execute("CREATE INDEX ix_parties_email ON parties (lower(email)) WHERE email IS NOT NULL")
        conn.execute("CREATE INDEX ix_parties_phone ON parties (phone) WHERE phone IS NOT NULL")
        # What a build that failed halfway leaves behind.
        conn.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_parties_phone'::regclass")
        built_ahead = conn.execute("SELECT 'ix_parties_email'::regclass::oid").fetchone()
    names = ("ix_parties_email", "ix_parties_phone", "ix_wallet_holds_owner")
    assert _index_states(empty_database_url, names) == {"ix_parties_email": True, "ix_parties_phone": False}

    migrate.upgrade(empty_database_url)

    assert _index_states(empty_database_url, names) == dict.fromkeys(names, True)
    with psycopg.connect(db.libpq_url(empty_database_url)) as conn:
        assert conn.execute("SELECT 'ix_parties_email'::regclass::oid").fetchone() == built_ahead
    assert _drift(empty_database_url) == []
