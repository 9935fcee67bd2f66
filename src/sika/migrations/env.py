"""Alembic environment: runs migrations on the URL handed in by ``sika.core.migrate``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from sika.core.db import libpq_url
from sika.db_models import Base

config = context.config
target_metadata = Base.metadata

# Tables that Alembic must not manage through autogenerate: procrastinate's
# schema is applied verbatim from its own SQL file by one migration.
EXTERNAL_TABLE_PREFIXES = ("procrastinate_",)


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(EXTERNAL_TABLE_PREFIXES))


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sika.core.migrate sets the database URL"
    sync_url = "postgresql+psycopg://" + libpq_url(url).split("://", 1)[1]
    engine = sa.create_engine(sync_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
