from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.app import create_app
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.core.config import Environment, Settings
from sika.core.context import Actor
from tests.support import asgi, database

TEST_ACTOR = Actor(id="test", scopes=frozenset({"admin"}), request_id="test-request")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url, embedded = database.server_url()
    yield url
    if embedded is not None:
        embedded.stop()
        # A test run's server is thrown away with its run: each left behind about 60 MB,
        # and a day of runs filled the disk.
        shutil.rmtree(embedded.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_url: str) -> Iterator[str]:
    name = database.create_template(pg_url)
    yield name
    database.drop(pg_url, name)


@pytest.fixture
def database_url(pg_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    with database.fresh_database(pg_url, template_db) as url:
        yield url


@pytest.fixture
def settings() -> Settings:
    return Settings(ENV=Environment.test, RATE_LIMIT_PER_KEY="100000/minute", RATE_LIMIT_PER_ADDRESS="100000/minute")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(database_url, pool_size=5, max_overflow=80)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.make_sessionmaker(engine)


@pytest.fixture
def app(settings: Settings, database_url: str, engine: AsyncEngine) -> FastAPI:
    jobs_worker.build(database_url)
    return create_app(settings, database_url=database_url, engine=engine)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi.client_of(app) as client:
        yield client


async def make_key(
    sessions: async_sessionmaker[AsyncSession], *scopes: Scope, expires_at: datetime | None = None
) -> str:
    async with db.transaction(sessions) as session:
        created = await auth_service.create_key(
            session,
            name="test key",
            scopes=[s.value for s in scopes],
            expires_at=expires_at,
            actor=TEST_ACTOR,
        )
    return created.secret


@pytest.fixture
async def admin_headers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}


@pytest.fixture
async def platform_headers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(sessions, Scope.platform)}"}


__all__ = ["TEST_ACTOR", "clock", "make_key"]
