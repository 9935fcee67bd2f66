"""Alerts that reach a person: critical alerts, a job backlog and a worker gone
silent are told to the operators' channels named in the settings — a webhook
(signed like platforms' webhooks, by the Standard Webhooks scheme), email over
SMTP, and Sentry when a DSN is set — each kind at most once per
``ALERT_NOTIFY_EVERY_SECONDS``.

What is told is decided in a transaction (one process at a time) that records a
notice per critical alert, sent or held back, so each alert is considered once;
the channels are called after it commits. A process that dies in between loses
that notice (the alert itself stays on the dashboard): at most once, never twice."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import repository
from sika.alerts.models import AlertNotice
from sika.core import clock, db, ids, webhook_signing
from sika.core.config import Settings

log = structlog.get_logger(__name__)

LOOKBACK_SECONDS = 24 * 3600
"""Critical alerts older than this when first considered (Sika was down, no channel was set) are not told."""
BATCH = 100


@dataclass(frozen=True)
class Notice:
    id: str
    type: str
    """``alert.raised``, ``jobs.backlog`` or ``worker.stale``."""
    title: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def channels_configured(settings: Settings) -> bool:
    return bool(settings.ALERT_WEBHOOK_URL or settings.ALERT_EMAIL_TO or settings.SENTRY_DSN)


async def decide(session: AsyncSession, *, settings: Settings, now: datetime) -> list[Notice]:
    """The notices to send now, recorded; none while another process is deciding."""
    if not channels_configured(settings) or not await repository.lock_notices(session):
        return []
    period_start = now - timedelta(seconds=settings.ALERT_NOTIFY_EVERY_SECONDS)
    told: set[str] = set()
    notices: list[Notice] = []

    async def due(key: str) -> bool:
        return key not in told and not await repository.sent_since(session, key=key, since=period_start)

    alerts = await repository.critical_not_noticed(
        session, since=now - timedelta(seconds=LOOKBACK_SECONDS), limit=BATCH
    )
    for alert in alerts:
        key = f"alert:{alert.kind}"
        send = await due(key)
        notice_id = ids.new_id("ntc")
        session.add(
            AlertNotice(id=notice_id, key=key, alert_id=alert.id, platform_id=alert.platform_id, sent=send, sent_at=now)
        )
        if send:
            told.add(key)
            data = {"alert_id": alert.id, "kind": alert.kind, "entity_type": alert.entity_type}
            data |= {"entity_id": alert.entity_id, "platform_id": alert.platform_id}
            notices.append(Notice(id=notice_id, type="alert.raised", title=alert.message, created_at=now, data=data))
    for notice in await _job_health(session, settings=settings, now=now):
        if await due(notice.type):
            session.add(AlertNotice(id=notice.id, key=notice.type, sent=True, sent_at=now))
            notices.append(notice)
    await session.flush()
    return notices


async def _job_health(session: AsyncSession, *, settings: Settings, now: datetime) -> list[Notice]:
    found = []
    waiting = await repository.jobs_waiting(session, now=now)
    if waiting > settings.ALERT_JOB_BACKLOG:
        title = f"{waiting} jobs are waiting to run (more than {settings.ALERT_JOB_BACKLOG})"
        found.append(Notice(ids.new_id("ntc"), "jobs.backlog", title, now, {"waiting": waiting}))
    beat = await repository.last_worker_heartbeat(session)
    if beat is not None and now - beat > timedelta(seconds=settings.ALERT_HEARTBEAT_STALE_SECONDS):
        title = f"No job worker has been heard from since {beat.isoformat()}"
        found.append(Notice(ids.new_id("ntc"), "worker.stale", title, now, {"last_heartbeat": beat.isoformat()}))
    return found


async def send(notice: Notice, *, settings: Settings, client: httpx.AsyncClient) -> None:
    """To every configured channel; one that fails is logged and does not stop the others."""
    if settings.ALERT_WEBHOOK_URL:
        await _guarded("webhook", notice, _post(notice, settings=settings, client=client))
    if settings.ALERT_EMAIL_TO:
        await _guarded("email", notice, _email(notice, settings=settings))
    if settings.SENTRY_DSN:
        _sentry(notice, settings=settings)


async def _guarded(channel: str, notice: Notice, sending: Any) -> None:
    try:
        await sending
    except (httpx.HTTPError, aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.error("alert_notice_not_sent", channel=channel, notice_id=notice.id, error=str(exc))


async def _post(notice: Notice, *, settings: Settings, client: httpx.AsyncClient) -> None:
    assert settings.ALERT_WEBHOOK_URL is not None
    document = {"id": notice.id, "type": notice.type, "created_at": notice.created_at.isoformat()}
    body = json.dumps({**document, "data": {"title": notice.title, **notice.data}}, separators=(",", ":")).encode()
    headers = {"content-type": "application/json"}
    if settings.ALERT_WEBHOOK_SECRET is not None:
        secret = settings.ALERT_WEBHOOK_SECRET.get_secret_value()
        timestamp = int(clock.now().timestamp())
        headers |= webhook_signing.headers([secret], msg_id=notice.id, timestamp=timestamp, body=body)
    response = await client.post(settings.ALERT_WEBHOOK_URL, content=body, headers=headers)
    response.raise_for_status()


async def _email(notice: Notice, *, settings: Settings) -> None:
    message = EmailMessage()
    message["From"] = settings.ALERT_EMAIL_FROM
    message["To"] = ", ".join(settings.ALERT_EMAIL_TO)
    message["Subject"] = f"[Sika] {notice.title}"[:200]
    lines = [notice.title, "", *(f"{name}: {value}" for name, value in notice.data.items()), "", f"notice {notice.id}"]
    message.set_content("\n".join(lines))
    password = settings.SMTP_PASSWORD.get_secret_value() if settings.SMTP_PASSWORD else None
    await aiosmtplib.send(
        message,
        hostname=settings.SMTP_HOST,
        port=settings.SMTP_PORT,
        username=settings.SMTP_USERNAME,
        password=password,
        start_tls=settings.SMTP_STARTTLS,
        use_tls=settings.SMTP_TLS,
        timeout=settings.SMTP_TIMEOUT_SECONDS,
    )


def _sentry(notice: Notice, *, settings: Settings) -> None:
    try:
        import sentry_sdk  # the optional extra: pip install 'sika[sentry]'
    except ImportError:
        log.error("alert_notice_not_sent", channel="sentry", notice_id=notice.id, error="sentry-sdk is not installed")
        return
    if not sentry_sdk.is_initialized():
        assert settings.SENTRY_DSN is not None
        sentry_sdk.init(dsn=settings.SENTRY_DSN.get_secret_value())
    sentry_sdk.capture_message(notice.title, level="error")


async def notify_operators(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, client: httpx.AsyncClient
) -> int:
    """Decide, then send; how many notices went out."""
    async with db.transaction(sessions) as session:
        notices = await decide(session, settings=settings, now=clock.now())
    for notice in notices:
        await send(notice, settings=settings, client=client)
    return len(notices)
