"""Signing in and out of the dashboard, the session cookie, CSRF on every
form, and every page refused without a session."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import Mount

from sika.app import DASHBOARD_PATH, create_app
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.core.config import Settings
from sika.dashboard import auth
from tests.conftest import TEST_ACTOR, make_key
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, form_token, sign_in
from tests.support.routes import Route, api_routes

PUBLIC_PAGES = {"/login"}
"""The one page (and its form) anyone may open: the sign-in page."""


async def _audit(sessions: async_sessionmaker[AsyncSession], action: str) -> list[tuple[str, str, str | None]]:
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.text("SELECT actor, entity_id, request_id FROM audit_events WHERE action = :action ORDER BY seq"),
            {"action": action},
        )
        return [(actor, entity_id, request_id) for actor, entity_id, request_id in rows]


async def _key_id(sessions: async_sessionmaker[AsyncSession], secret: str) -> str:
    async with db.transaction(sessions) as session:
        return (await auth_service.authenticate(session, secret=secret, now=clock.now())).id


def _set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def _dashboard_routes(app: FastAPI) -> list[Route]:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == DASHBOARD_PATH)
    dashboard = mount.app
    assert isinstance(dashboard, FastAPI)
    return api_routes(dashboard.routes)


@pytest.mark.parametrize("scope", [Scope.admin, Scope.support])
async def test_an_admin_or_support_key_signs_in(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings, scope: Scope
) -> None:
    secret = await make_key(sessions, scope)
    response = await sign_in(client, secret)
    assert response.status_code == 303
    assert response.headers["location"] == f"{DASHBOARD}/"

    session_cookie = _set_cookies(response)[auth.SESSION_COOKIE][auth.SESSION_COOKIE]
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "strict"
    assert session_cookie["path"] == DASHBOARD
    assert session_cookie["max-age"] == str(settings.DASHBOARD_SESSION_MAX_AGE_SECONDS)
    assert secret not in session_cookie.value, "the key's secret never leaves the sign-in form"

    overview = await client.get(f"{DASHBOARD}/")
    assert overview.status_code == 200
    assert f"Signed in with test key ({scope.value})" in pages.text(overview.text)
    key_id = await _key_id(sessions, secret)
    [(actor, entity_id, request_id)] = await _audit(sessions, "dashboard.signed_in")
    assert (actor, entity_id) == (f"key:{key_id}", key_id)
    assert request_id == response.headers["x-request-id"]


@pytest.mark.parametrize("scope", [Scope.platform, Scope.read])
async def test_other_scopes_are_refused_with_a_clear_message(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], scope: Scope
) -> None:
    secret = await make_key(sessions, scope)
    response = await sign_in(client, secret)
    assert response.status_code == 403
    assert (
        f"This key has the scopes {scope.value}; the dashboard needs a key with the admin or support scope."
        in pages.text(response.text)
    )
    assert auth.SESSION_COOKIE not in _set_cookies(response)
    assert (await client.get(f"{DASHBOARD}/")).status_code == 303
    assert await _audit(sessions, "dashboard.signed_in") == []


@pytest.mark.parametrize("state", ["wrong", "revoked", "expired", "malformed"])
async def test_a_key_that_does_not_authenticate_is_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], state: str
) -> None:
    secret = await make_key(sessions, Scope.admin)
    if state == "wrong":
        secret = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    elif state == "revoked":
        key_id = await _key_id(sessions, secret)
        async with db.transaction(sessions) as session:
            await auth_service.revoke_key(session, key_id=key_id, actor=TEST_ACTOR, now=clock.now())
    elif state == "expired":
        secret = await make_key(sessions, Scope.admin, expires_at=clock.now() - timedelta(seconds=1))
    else:
        secret = "not a key"
    response = await sign_in(client, secret, next_path="/dashboard/webhooks")
    assert response.status_code == 401
    assert "This API key is not valid, has been revoked or has expired." in pages.text(response.text)
    assert 'name="next" value="/dashboard/webhooks"' in response.text, "a second try still goes where asked"
    assert auth.SESSION_COOKIE not in _set_cookies(response)
    assert await _audit(sessions, "dashboard.signed_in") == []


async def test_the_sign_in_form_needs_its_own_token(
    app: FastAPI, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A form posted from elsewhere has neither the form's cookie nor its token."""
    secret = await make_key(sessions, Scope.admin)
    forged = await client.post(f"{DASHBOARD}/login", data={"api_key": secret, "csrf_token": "guess"})
    assert forged.status_code == 403
    assert "The sign-in form expired or did not come from this page" in pages.text(forged.text)

    shown = await client.get(f"{DASHBOARD}/login")
    wrong_token = await client.post(f"{DASHBOARD}/login", data={"api_key": secret, "csrf_token": "x" * 43})
    assert wrong_token.status_code == 403
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sika.test") as other:
        without_cookie = await other.post(
            f"{DASHBOARD}/login", data={"api_key": secret, "csrf_token": form_token(shown.text)}
        )
    assert without_cookie.status_code == 403
    for refused in (forged, wrong_token, without_cookie):
        assert auth.SESSION_COOKIE not in _set_cookies(refused)
    assert await _audit(sessions, "dashboard.signed_in") == []


async def test_every_page_refuses_without_a_session(
    app: FastAPI, client: httpx.AsyncClient, open_alert: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Walks every route of the dashboard: each but the sign-in page sends the browser
    to sign in, and a form posted without a session changes nothing."""
    routes = _dashboard_routes(app)
    assert {route.path for route in routes} >= {"/", "/alerts", "/payments/stuck", "/webhooks", "/search", "/logout"}
    walked = 0
    for route in routes:
        if route.path in PUBLIC_PAGES:
            continue
        path = DASHBOARD + route.path.replace("{alert_id}", open_alert).replace("{escrow_id}", "esc_x")
        path = path.replace("{number}", "1").replace("{proof_id}", "prf_x").replace("{merchant_id}", "mer_x")
        path = path.replace("{endpoint_id}", "we_x").replace("{delivery_id}", "whd_x")
        path = path.replace("{figure}", "held").replace("{plural}", "collections").replace("{object_id}", "col_x")
        path = path.replace("{event_id}", "whe_x")
        for kind in ("collection", "payout", "hold", "wallet", "party"):
            path = path.replace(f"{{{kind}_id}}", f"{kind}_x")
        for method in sorted(route.methods):
            response = await client.request(method, path, data={"csrf_token": "x"} if method == "POST" else None)
            assert response.status_code == 303, (method, path)
            location = response.headers["location"]
            if method == "GET":
                assert location == f"{DASHBOARD}/login?next={path.replace('/', '%2F')}"
            else:
                assert location == f"{DASHBOARD}/login"
            walked += 1
    assert walked == 31
    async with db.transaction(sessions) as session:
        assert await session.scalar(sa.text("SELECT count(*) FROM alerts WHERE acknowledged_at IS NOT NULL")) == 0
        assert await session.scalar(sa.text("SELECT count(*) FROM audit_events WHERE actor LIKE 'key:%'")) == 0


async def test_sign_in_returns_to_the_page_asked_for_and_never_elsewhere(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    secret = await make_key(sessions, Scope.support)
    asked = await client.get(f"{DASHBOARD}/webhooks")
    assert asked.headers["location"] == f"{DASHBOARD}/login?next=%2Fdashboard%2Fwebhooks"
    form = await client.get(asked.headers["location"])
    assert 'name="next" value="/dashboard/webhooks"' in form.text
    response = await client.post(
        f"{DASHBOARD}/login",
        data={"csrf_token": form_token(form.text), "api_key": secret, "next": "/dashboard/webhooks"},
    )
    assert response.headers["location"] == f"{DASHBOARD}/webhooks"
    for elsewhere in ("https://evil.example/", "//evil.example/dashboard/", "/v1/api-keys", "/dashboard//evil"):
        client.cookies.clear()
        assert (await sign_in(client, secret, next_path=elsewhere)).headers["location"] == f"{DASHBOARD}/"


async def test_a_tampered_or_foreign_cookie_is_no_session(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    secret = await make_key(sessions, Scope.admin)
    # A sign-in form's cookie is signed with the same secret, under another salt.
    form_cookie = _set_cookies(await client.get(f"{DASHBOARD}/login"))[auth.LOGIN_COOKIE][auth.LOGIN_COOKIE].value
    await sign_in(client, secret)
    genuine = client.cookies.get(auth.SESSION_COOKIE, path=DASHBOARD)
    assert genuine is not None
    key_id = await _key_id(sessions, secret)
    foreign = URLSafeTimedSerializer("another secret" * 3, salt=auth.SESSION_SALT).dumps({"k": key_id, "c": "token"})
    for value in (genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"), foreign, form_cookie):
        client.cookies.clear()
        client.cookies.set(auth.SESSION_COOKIE, value, path=DASHBOARD)
        response = await client.get(f"{DASHBOARD}/alerts")
        assert response.status_code == 303
        assert response.headers["location"] == f"{DASHBOARD}/login?next=%2Fdashboard%2Falerts&ended=1"


async def test_a_session_expires_after_its_max_age(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    secret = await make_key(sessions, Scope.admin)
    key_id = await _key_id(sessions, secret)
    max_age = settings.DASHBOARD_SESSION_MAX_AGE_SECONDS
    session_secret = settings.DASHBOARD_SESSION_SECRET
    assert session_secret is not None

    def issued(seconds_ago: int) -> str:
        class Backdated(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - seconds_ago

        serializer = URLSafeTimedSerializer(session_secret.get_secret_value(), salt=auth.SESSION_SALT, signer=Backdated)
        return serializer.dumps({"k": key_id, "c": "token"})

    client.cookies.set(auth.SESSION_COOKIE, issued(max_age - 60), path=DASHBOARD)
    assert (await client.get(f"{DASHBOARD}/")).status_code == 200
    client.cookies.set(auth.SESSION_COOKIE, issued(max_age + 5), path=DASHBOARD)
    expired = await client.get(f"{DASHBOARD}/")
    assert expired.status_code == 303
    assert expired.headers["location"].endswith("&ended=1")
    notice = await client.get(expired.headers["location"])
    assert "Your session has ended: sign in again." in pages.text(notice.text)


@pytest.mark.parametrize("ending", ["revoked", "scope_gone"])
async def test_revoking_the_key_ends_its_session(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], ending: str
) -> None:
    secret = await make_key(sessions, Scope.support)
    await sign_in(client, secret)
    assert (await client.get(f"{DASHBOARD}/")).status_code == 200
    key_id = await _key_id(sessions, secret)
    async with db.transaction(sessions) as session:
        if ending == "revoked":
            await auth_service.revoke_key(session, key_id=key_id, actor=TEST_ACTOR, now=clock.now())
        else:
            await session.execute(sa.text("UPDATE auth_api_keys SET scopes = '{read}' WHERE id = :id"), {"id": key_id})
    response = await client.get(f"{DASHBOARD}/")
    assert response.status_code == 303
    assert response.headers["location"] == f"{DASHBOARD}/login?next=%2Fdashboard%2F&ended=1"
    cleared = _set_cookies(response)[auth.SESSION_COOKIE][auth.SESSION_COOKIE]
    assert cleared["max-age"] == "0"


async def test_sign_out_needs_the_session_s_token_and_ends_it(
    operator: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], admin_secret: str
) -> None:
    page = await operator.get(f"{DASHBOARD}/")
    refused = await operator.post(f"{DASHBOARD}/logout", data={"csrf_token": "not-the-token"})
    assert refused.status_code == 403
    assert "The form expired or did not come from the dashboard: nothing was changed." in pages.text(refused.text)
    assert (await operator.get(f"{DASHBOARD}/")).status_code == 200
    assert await _audit(sessions, "dashboard.signed_out") == []

    response = await operator.post(f"{DASHBOARD}/logout", data={"csrf_token": form_token(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == f"{DASHBOARD}/login?signed_out=1"
    assert (await operator.get(f"{DASHBOARD}/")).status_code == 303
    key_id = await _key_id(sessions, admin_secret)
    assert [(actor, entity) for actor, entity, _ in await _audit(sessions, "dashboard.signed_out")] == [
        (f"key:{key_id}", key_id)
    ]


async def test_each_session_has_its_own_csrf_token(client: httpx.AsyncClient, admin_secret: str) -> None:
    await sign_in(client, admin_secret)
    first = form_token((await client.get(f"{DASHBOARD}/")).text)
    client.cookies.clear()
    await sign_in(client, admin_secret)
    second = form_token((await client.get(f"{DASHBOARD}/")).text)
    assert first != second
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", second)


async def test_failed_sign_ins_are_rate_limited_per_address(
    settings: Settings, database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(
        settings.model_copy(update={"RATE_LIMIT_PER_ADDRESS": "3/minute"}), database_url=database_url, engine=engine
    )
    secret = await make_key(sessions, Scope.admin)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sika.test") as client:
        statuses = [(await sign_in(client, "sika_000000000000_guess")).status_code for _ in range(3)]
        limited = await sign_in(client, secret)
    assert statuses == [401, 401, 401]
    assert limited.status_code == 429
    assert "Too many sign-in attempts from this address" in pages.text(limited.text)
    assert auth.SESSION_COOKIE not in _set_cookies(limited)
