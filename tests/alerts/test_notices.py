"""Alerts reach a person: a critical alert is emailed through an SMTP server (a
local one here, aiosmtpd) and posted to the operators' webhook, signed by the
Standard Webhooks scheme (checked with its reference library), once; another of
the same kind within the period is held back, one of another kind goes."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator, Iterator
from email.message import Message

import httpx
import pytest
import sqlalchemy as sa
import standardwebhooks
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.alerts import notices
from sika.alerts import service as alerts_service
from sika.core import db, webhook_signing
from sika.core.config import Settings
from tests.support.receiver import Receiver, receiving
from tests.support.server import free_port
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this folder)

Sessions = async_sessionmaker[AsyncSession]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


@pytest.fixture
async def sender() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def raise_critical(sessions: Sessions, kind: str, message: str) -> str:
    async with db.transaction(sessions) as session:
        alert = await alerts_service.raise_alert(
            session, kind=kind, message=message, severity="critical", platform_id=None
        )
        return alert.id


async def test_a_critical_alert_reaches_the_mailbox_and_the_webhook_once(
    sessions: Sessions,
    settings: Settings,
    mailbox: tuple[Mailbox, int],
    receiver: Receiver,
    sender: httpx.AsyncClient,
) -> None:
    box, port = mailbox
    secret = webhook_signing.new_secret()
    told = settings.model_copy(
        update={
            "ALERT_WEBHOOK_URL": receiver.url,
            "ALERT_WEBHOOK_SECRET": SecretStr(secret),
            "ALERT_EMAIL_TO": ["oncall@example.com"],
            "ALERT_EMAIL_FROM": "sika@example.com",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port,
        }
    )
    alert_id = await raise_critical(sessions, "ledger.invariant_breached", "The ledger does not balance")
    assert await notices.notify_operators(sessions, settings=told, client=sender) == 1
    assert await notices.notify_operators(sessions, settings=told, client=sender) == 0

    [mail] = box.messages
    assert mail["To"] == "oncall@example.com"
    assert mail["Subject"] == "[Sika] The ledger does not balance"
    [posted] = receiver.received
    payload = standardwebhooks.Webhook(secret).verify(posted.body, posted.headers)
    assert payload["type"] == "alert.raised"
    assert payload["data"]["alert_id"] == alert_id
    assert payload["data"]["title"] == "The ledger does not balance"

    # The same kind again within the period is held back; another kind goes.
    await raise_critical(sessions, "ledger.invariant_breached", "Still not balanced")
    await raise_critical(sessions, "outbound.endpoint_disabled", "An endpoint was disabled")
    assert await notices.notify_operators(sessions, settings=told, client=sender) == 1
    assert [m["Subject"] for m in box.messages][1:] == ["[Sika] An endpoint was disabled"]
    assert len(receiver.received) == 2


async def test_nothing_is_told_or_kept_without_a_channel(
    sessions: Sessions, settings: Settings, sender: httpx.AsyncClient
) -> None:
    await raise_critical(sessions, "ledger.invariant_breached", "The ledger does not balance")
    assert await notices.notify_operators(sessions, settings=settings, client=sender) == 0
    async with sessions() as session:
        assert await session.scalar(sa.text("SELECT count(*) FROM alert_notices")) == 0
