"""Migrations go up, down and up again on an empty database, and the models
and the migrations describe the same schema."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

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


def test_every_step_down_and_up_again(empty_database_url: str) -> None:
    """Each revision's downgrade undoes exactly its upgrade."""
    migrate.upgrade(empty_database_url)
    full = _tables(empty_database_url)
    head = migrate.head_revision()
    assert head is not None
    migrate.downgrade(empty_database_url, "-1")
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == full
