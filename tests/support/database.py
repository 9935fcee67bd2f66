"""Real PostgreSQL for tests: one server per test process (embedded from
``pgserver``, or ``SIKA_TEST_DATABASE_URL``), one migrated template
database, and a fresh database cloned from it for every test that asks."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from sika.core import db, migrate


def server_url() -> tuple[str, db.EmbeddedPostgres | None]:
    external = os.environ.get("SIKA_TEST_DATABASE_URL")
    if external:
        return external, None
    data_dir = Path(tempfile.mkdtemp(prefix="sika-test-pg-"))
    embedded = db.EmbeddedPostgres(data_dir=data_dir)
    return embedded.start(), embedded


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (works for socket and TCP URLs)."""
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(db.libpq_url(url), autocommit=True)


def create_template(url: str) -> str:
    name = f"sika_tpl_{uuid.uuid4().hex[:8]}"
    with _admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate.upgrade(with_database(url, name))
    return name


def create_empty(url: str) -> str:
    name = f"sika_t_{uuid.uuid4().hex[:10]}"
    with _admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


@contextmanager
def fresh_database(url: str, template: str) -> Iterator[str]:
    name = f"sika_t_{uuid.uuid4().hex[:10]}"
    with _admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    try:
        yield with_database(url, name)
    finally:
        drop(url, name)


def drop(url: str, name: str) -> None:
    with _admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
