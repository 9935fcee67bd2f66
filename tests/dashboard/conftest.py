"""Fixtures of the dashboard tests: an operator signed in over HTTP (the
sign-in form, its token and the session cookie, as a browser does it)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import service as alerts_service
from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.core.config import Settings
from tests.conftest import make_key
from tests.dashboard.world import World, build
from tests.support.browser import chromium
from tests.support.sandbox import LiveSandbox, live_sandbox

DASHBOARD = "/dashboard"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    """The CSRF token a page's forms carry (all of a page's forms carry the same one)."""
    found = _TOKEN.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, secret: str, *, next_path: str = "") -> httpx.Response:
    form = await client.get(f"{DASHBOARD}/login")
    assert form.status_code == 200, form.text
    return await client.post(
        f"{DASHBOARD}/login",
        data={"csrf_token": form_token(form.text), "api_key": secret, "next": next_path},
    )


@pytest.fixture
async def admin_secret(sessions: async_sessionmaker[AsyncSession]) -> str:
    return await make_key(sessions, Scope.admin)


@pytest.fixture
async def operator(client: httpx.AsyncClient, admin_secret: str) -> httpx.AsyncClient:
    """``client`` with an admin operator signed in to the dashboard."""
    response = await sign_in(client, admin_secret)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{DASHBOARD}/"
    return client


@pytest.fixture(scope="session")
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as running:
        yield running


@pytest.fixture
async def world(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], settings: Settings, live: LiveSandbox
) -> World:
    """Parties, money, collections, payouts, webhooks and alerts, made through the services."""
    return await build(sessions, provider_settings=live.settings, settings=settings, now=clock.now())


@pytest.fixture
async def open_alert(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The id of one open alert, raised through the service."""
    async with db.transaction(sessions) as session:
        alert = await alerts_service.raise_alert(
            session,
            kind="webhook.amount_mismatch",
            severity="critical",
            message="Paystack reported 2 500 000 XOF for a collection of 25 000 XOF; nothing was credited.",
            entity_type="collection",
            entity_id="col_mismatch",
            platform_id=None,
        )
    return alert.id


# The real browser (test_browser.py, test_platforms.py) ----------------------------

TIMEOUT_MS = 20_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a browser test keeps its screenshots: ``$SIKA_DASHBOARD_SCREENSHOTS`` when set."""
    chosen = os.environ.get("SIKA_DASHBOARD_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
