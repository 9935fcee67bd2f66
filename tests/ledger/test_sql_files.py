"""The domains' sql files (``sika/<domain>/sql/*.sql``) are what the
migrations install: a database migrated to head has exactly their functions
(text and comment) and triggers, no more and no fewer, and each downgrade
gives back exactly the definitions of the step before (so the migration that
changes a function must carry its previous text)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

import sika
from sika.core import db, migrate
from tests.support import database

PACKAGE = Path(sika.__file__).resolve().parent
SQL_FILES = sorted(PACKAGE.glob("*/sql/*.sql"))

# procrastinate's schema is its own, applied as the library ships it.
_FUNCTIONS = """
    SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.proname NOT LIKE 'procrastinate%'
"""
_TRIGGERS = """
    SELECT t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid), obj_description(t.oid, 'pg_trigger')
      FROM pg_trigger t
     WHERE NOT t.tgisinternal AND t.tgname NOT LIKE 'procrastinate%'
"""

Definitions = dict[str, tuple[str, str | None]]


def definitions(url: str) -> Definitions:
    """Every function and trigger outside procrastinate's, by signature or
    ``table.trigger``: its definition as PostgreSQL prints it, and its comment."""
    with psycopg.connect(db.libpq_url(url)) as conn:
        rows = conn.execute(_FUNCTIONS).fetchall() + conn.execute(_TRIGGERS).fetchall()
    return {name: (definition, comment) for name, definition, comment in rows}


def apply_sql_files(url: str) -> None:
    """Drop every function (and with them every trigger) the migrations made,
    then run the sql files instead."""
    with psycopg.connect(db.libpq_url(url)) as conn:
        for (signature,) in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.proname NOT LIKE 'procrastinate%'"
        ).fetchall():
            conn.execute(f"DROP FUNCTION {signature} CASCADE")
        conn.commit()
    assert definitions(url) == {}, "a trigger outlived the functions: it calls one from elsewhere"
    with psycopg.connect(db.libpq_url(url)) as conn:
        for path in SQL_FILES:
            conn.execute(path.read_text())


@pytest.fixture
def empty_database_url(pg_url: str) -> Iterator[str]:
    name = database.create_empty(pg_url)
    yield database.with_database(pg_url, name)
    database.drop(pg_url, name)


def test_every_domain_with_sql_has_its_file() -> None:
    assert [path.relative_to(PACKAGE).as_posix() for path in SQL_FILES] == [
        "audit/sql/audit.sql",
        "ledger/sql/ledger.sql",
        "wallets/sql/wallets.sql",
    ]


def test_a_migrated_database_runs_exactly_the_sql_files(pg_url: str, template_db: str, database_url: str) -> None:
    migrated = definitions(database_url)
    with database.fresh_database(pg_url, template_db) as rebuilt_url:
        apply_sql_files(rebuilt_url)
        rebuilt = definitions(rebuilt_url)
    assert sorted(rebuilt) == sorted(migrated), "the sql files and the migrations define different objects"
    for name, found in migrated.items():
        assert found == rebuilt[name], f"{name}: the migrations install another text than the sql files"


def test_each_function_names_the_file_that_defines_it(database_url: str) -> None:
    texts = {path.relative_to(PACKAGE).as_posix(): path.read_text() for path in SQL_FILES}
    functions = {name: comment for name, (_, comment) in definitions(database_url).items() if "(" in name}
    assert len(functions) >= 16
    for signature, comment in functions.items():
        source = re.fullmatch(r"Source: sika/(\S+)", comment or "")
        assert source is not None, f"{signature} has no source comment"
        name = signature.split("(", 1)[0]
        assert f"CREATE OR REPLACE FUNCTION {name}(" in texts[source[1]], f"{signature} is not in {source[1]}"


def test_each_downgrade_gives_back_the_definitions_of_the_step_before(empty_database_url: str) -> None:
    """Up one revision at a time recording every function's and trigger's
    text, then down one at a time: each step down must give back exactly
    the text of the step before (tests/foundation compares names only)."""
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    seen = {"base": definitions(empty_database_url)}
    for revision in revisions:
        migrate.upgrade(empty_database_url, revision)
        seen[revision] = definitions(empty_database_url)
    for previous, revision in reversed(list(zip(["base", *revisions], revisions, strict=False))):
        migrate.downgrade(empty_database_url, previous)
        assert definitions(empty_database_url) == seen[previous], f"downgrade of {revision} changed a definition"
