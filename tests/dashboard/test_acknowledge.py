"""Acknowledging an alert: the dashboard's only write, through the alerts
service, audited, and refused without the session's CSRF token."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.auth.scopes import Scope
from sika.core import clock, db
from sika.dashboard import auth
from tests.conftest import make_key
from tests.dashboard import pages
from tests.dashboard.conftest import DASHBOARD, form_token, sign_in

REASON = "The provider confirmed the amount by phone"


async def _alert_state(sessions: async_sessionmaker[AsyncSession], alert_id: str) -> tuple[object, object]:
    async with db.transaction(sessions) as session:
        row = (
            await session.execute(
                sa.text("SELECT acknowledged_at, acknowledged_by FROM alerts WHERE id = :id"), {"id": alert_id}
            )
        ).one()
    return row[0], row[1]


async def _audit_rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str, str | None]]:
    async with db.transaction(sessions) as session:
        rows = await session.execute(
            sa.text(
                "SELECT actor, action, entity_id, request_id FROM audit_events "
                "WHERE action = 'alert.acknowledged' ORDER BY seq"
            )
        )
        return [(actor, action, entity_id, request_id) for actor, action, entity_id, request_id in rows]


async def _key_id(sessions: async_sessionmaker[AsyncSession], name_scope: str) -> str:
    async with db.transaction(sessions) as session:
        key_id = await session.scalar(
            sa.text("SELECT id FROM auth_api_keys WHERE :scope = ANY(scopes) ORDER BY created_at DESC LIMIT 1"),
            {"scope": name_scope},
        )
    assert isinstance(key_id, str)
    return key_id


async def test_acknowledging_writes_the_alert_and_an_audit_row(
    operator: httpx.AsyncClient, open_alert: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    page = await operator.get(f"{DASHBOARD}/alerts")
    assert pages.row_ids(page.text, "alerts", "data-alert") == [open_alert]
    before = clock.now()
    response = await operator.post(
        f"{DASHBOARD}/alerts/{open_alert}/acknowledge",
        data={"csrf_token": form_token(page.text), "status": "open", "reason": REASON},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{DASHBOARD}/alerts?status=open&acknowledged={open_alert}"

    key_id = await _key_id(sessions, "admin")
    acknowledged_at, acknowledged_by = await _alert_state(sessions, open_alert)
    assert acknowledged_by == f"key:{key_id}"
    assert isinstance(acknowledged_at, type(before))
    assert before <= acknowledged_at <= clock.now()
    assert await _audit_rows(sessions) == [
        (f"key:{key_id}", "alert.acknowledged", open_alert, response.headers["x-request-id"])
    ]

    after = await operator.get(response.headers["location"])
    assert f"Alert {open_alert} acknowledged." in pages.text(after.text)
    assert pages.row_ids(after.text, "alerts", "data-alert") == []
    shown = await operator.get(f"{DASHBOARD}/alerts?status=acknowledged")
    assert f"Acknowledged by key:{key_id} at" in pages.text(shown.text)

    again = await operator.post(
        f"{DASHBOARD}/alerts/{open_alert}/acknowledge", data={"csrf_token": form_token(page.text), "reason": REASON}
    )
    assert again.status_code == 303
    assert len(await _audit_rows(sessions)) == 1, "acknowledging twice records it once"


async def test_a_support_key_may_acknowledge(
    client: httpx.AsyncClient, open_alert: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await sign_in(client, await make_key(sessions, Scope.support))
    page = await client.get(f"{DASHBOARD}/alerts")
    response = await client.post(
        f"{DASHBOARD}/alerts/{open_alert}/acknowledge", data={"csrf_token": form_token(page.text), "reason": REASON}
    )
    assert response.status_code == 303
    assert (await _alert_state(sessions, open_alert))[1] == f"key:{await _key_id(sessions, 'support')}"


async def test_acknowledging_without_the_session_s_token_is_refused(
    operator: httpx.AsyncClient,
    open_alert: str,
    sessions: async_sessionmaker[AsyncSession],
    app: FastAPI,
) -> None:
    own_token = form_token((await operator.get(f"{DASHBOARD}/alerts")).text)
    # Another operator's session has a token of its own, which is not this session's.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sika.test") as other:
        await sign_in(other, await make_key(sessions, Scope.admin))
        others_token = form_token((await other.get(f"{DASHBOARD}/alerts")).text)
    assert others_token != own_token
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": others_token}):
        response = await operator.post(f"{DASHBOARD}/alerts/{open_alert}/acknowledge", data=data)
        assert response.status_code == 403, data
        assert "nothing was changed" in pages.text(response.text)
    assert await _alert_state(sessions, open_alert) == (None, None)
    assert await _audit_rows(sessions) == []
    assert auth.SESSION_COOKIE in operator.cookies


async def test_acknowledging_an_unknown_alert_is_a_404_page(
    operator: httpx.AsyncClient, open_alert: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = form_token((await operator.get(f"{DASHBOARD}/alerts")).text)
    response = await operator.post(
        f"{DASHBOARD}/alerts/alrt_nosuch/acknowledge", data={"csrf_token": token, "reason": REASON}
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "There is no such alert." in pages.text(response.text)
    assert await _alert_state(sessions, open_alert) == (None, None)
    assert await _audit_rows(sessions) == []


async def test_acknowledging_without_a_reason_is_refused(
    operator: httpx.AsyncClient, open_alert: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = form_token((await operator.get(f"{DASHBOARD}/alerts")).text)
    for reason in (None, "", "   ", "x" * 501):
        data = {"csrf_token": token} if reason is None else {"csrf_token": token, "reason": reason}
        response = await operator.post(f"{DASHBOARD}/alerts/{open_alert}/acknowledge", data=data)
        assert response.status_code == 400, reason
        assert "Give a reason" in pages.text(response.text)
    assert await _alert_state(sessions, open_alert) == (None, None)
    assert await _audit_rows(sessions) == []


async def test_the_reason_is_kept_in_the_audit_row(
    operator: httpx.AsyncClient, open_alert: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = form_token((await operator.get(f"{DASHBOARD}/alerts")).text)
    done = await operator.post(
        f"{DASHBOARD}/alerts/{open_alert}/acknowledge", data={"csrf_token": token, "reason": f"  {REASON} "}
    )
    assert done.status_code == 303
    async with db.transaction(sessions) as session:
        data = await session.scalar(
            sa.text("SELECT data FROM audit_events WHERE action = 'alert.acknowledged' AND entity_id = :id"),
            {"id": open_alert},
        )
    assert data == {"reason": REASON}
