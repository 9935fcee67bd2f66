"""Helpers for tests of collections, payouts and webhooks: the payer they
start from, webhooks handed from the sandbox to Sika exactly as sent,
queued jobs run in-process, and the checks every money test ends with
(the ledger clean; after a refusal, nothing changed anywhere)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika import worker as jobs_worker
from sika.alerts.models import Alert
from sika.core import clock, db, ids, invariants
from sika.core.config import Settings
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.jobs import app as jobs_app
from sika.payments.models import Collection
from tests.support.factories import PartyWallet, party_with_wallet, top_up
from tests.support.sandbox import LiveSandbox, Received

SUCCESS_PHONE = "+2250700000101"
"""A number the sandbox lets succeed (its last four digits select no scenario)."""
OTP = "123456"
"""The one OTP the sandbox accepts."""


async def payer(
    client: httpx.AsyncClient, headers: dict[str, str], *, currency: str = "XOF", country: str = "CI"
) -> PartyWallet:
    """Kofi, a party in ``country`` with the email providers ask for, and his wallet in ``currency``."""
    return await party_with_wallet(
        client,
        headers,
        currency=currency,
        display_name="Kofi Mensah",
        country=country,
        email="kofi@example.ci",
        phone="+2250700000001",
    )


async def wallet_state(client: httpx.AsyncClient, headers: dict[str, str], wallet_id: str) -> tuple[int, int]:
    """(balance, held) as the API reports them."""
    response = await client.get(f"/v1/wallets/{wallet_id}", headers=headers)
    assert response.status_code == 200, response.text
    wallet = response.json()
    return wallet["balance_minor"], wallet["held_minor"]


def mobile_money(operator: str, phone: str = SUCCESS_PHONE) -> dict[str, Any]:
    return {"type": "mobile_money", "operator": operator, "phone": phone}


def collection_body(
    who: PartyWallet, *, amount_minor: int, method: dict[str, Any], currency: str = "XOF"
) -> dict[str, Any]:
    return {
        "party_id": who.party_id,
        "wallet_id": who.wallet_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "method": method,
    }


def payout_body(
    who: PartyWallet, *, amount_minor: int, phone: str = SUCCESS_PHONE, operator: str = "mtn"
) -> dict[str, Any]:
    return {
        "party_id": who.party_id,
        "wallet_id": who.wallet_id,
        "amount_minor": amount_minor,
        "currency": "XOF",
        "destination": {"operator": operator, "phone": phone},
        "recipient_name": "Kofi Mensah",
        "reason": "withdrawal",
    }


async def initiated_collection(
    sessions: async_sessionmaker[AsyncSession], who: PartyWallet, *, amount_minor: int, operator: str = "mtn"
) -> str:
    """A collection as its first phase commits it, before any provider was
    called: what a crash right after that commit leaves behind."""
    now = clock.now()
    collection = Collection(
        id=ids.new_id("col"),
        party_id=who.party_id,
        platform_id=DEFAULT_PLATFORM_ID,
        wallet_id=who.wallet_id,
        amount_minor=amount_minor,
        currency="XOF",
        method="mobile_money",
        operator=operator,
        phone=SUCCESS_PHONE,
        country="CI",
        customer_email="kofi@example.ci",
        description="",
        status="initiated",
        created_by="test",
        created_at=now,
        updated_at=now,
    )
    async with db.transaction(sessions) as session:
        session.add(collection)
    return collection.id


async def deliver(client: httpx.AsyncClient, received: Received) -> httpx.Response:
    """Post a webhook the sandbox sent, with its exact body and headers, to Sika."""
    provider = received.path.rstrip("/").rsplit("/", 1)[-1]
    headers = {k: v for k, v in received.headers.items() if k not in ("host", "content-length")}
    return await client.post(f"/v1/webhooks/{provider}", content=received.body, headers=headers)


async def run_jobs(database_url: str, settings: Settings, *, queues: list[str] | None = None) -> None:
    """Run every job queued now on ``queues`` (``webhooks`` by default) in this
    process, as a worker would, and return once none is left."""
    engine = db.make_engine(database_url, pool_size=2, max_overflow=2)
    try:
        runtime = jobs_app.Runtime(settings=settings, sessions=db.make_sessionmaker(engine))
        app = jobs_worker.build(database_url)
        async with app.open_async():
            await app.run_worker_async(
                queues=queues or ["webhooks"],
                wait=False,
                install_signal_handlers=False,
                additional_context={"runtime": runtime},
            )
    finally:
        await engine.dispose()


async def assert_ledger_clean(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What ``sika check`` checks of the ledger: every invariant holds."""
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def alerts_for(sessions: async_sessionmaker[AsyncSession], entity_id: str) -> list[tuple[str, str]]:
    """(kind, severity) of every alert about ``entity_id``, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            sa.select(Alert.kind, Alert.severity).where(Alert.entity_id == entity_id).order_by(Alert.seq)
        )
        return [(kind, severity) for kind, severity in rows]


async def count(sessions: async_sessionmaker[AsyncSession], table: str, where: str = "TRUE", **params: Any) -> int:
    async with sessions() as session:
        value = await session.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"), params)  # noqa: S608
        return int(value or 0)


FOOTPRINT_TABLES = (
    "payments_collections",
    "payments_payouts",
    "webhooks_inbound_events",
    "events",
    "audit_events",
    "ledger_accounts",
    "ledger_transfers",
)
"""Where a payment flow leaves a trace: what it recorded, announced, audited, and every
money movement (a balance changes only by a transfer)."""
REQUESTED_JOBS = "id NOT IN (SELECT job_id FROM procrastinate_periodic_defers WHERE job_id IS NOT NULL)"
"""Jobs a request deferred; a worker run may also defer the periodic ones, which a test does not cause."""


@dataclass(frozen=True)
class World:
    """What a payments test drives: the API (in-process), the sandbox over HTTP
    with the receiver of its webhooks, the database, and the worker's jobs."""

    client: httpx.AsyncClient
    platform: dict[str, str]
    """Headers of a platform key."""
    admin: dict[str, str]
    """Headers of an admin key (top-ups)."""
    sandbox: LiveSandbox
    sessions: async_sessionmaker[AsyncSession]
    database_url: str
    settings: Settings

    async def wallet(self, who: PartyWallet) -> tuple[int, int]:
        """(balance, held) of ``who``'s wallet."""
        return await wallet_state(self.client, self.platform, who.wallet_id)

    async def top_up(self, who: PartyWallet, amount_minor: int) -> None:
        await top_up(self.client, self.admin, who.wallet_id, amount_minor)

    async def collect(self, body: dict[str, Any], **sent: Any) -> httpx.Response:
        return await self._post("/v1/collections", body, **sent)

    async def pay_out(self, body: dict[str, Any], **sent: Any) -> httpx.Response:
        return await self._post("/v1/payouts", body, **sent)

    async def _post(
        self, path: str, body: dict[str, Any], *, key: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """As the platform (or ``headers``' caller), with an Idempotency-Key when ``key`` is given."""
        extra = {"Idempotency-Key": key} if key else {}
        return await self.client.post(path, json=body, headers={**(headers or self.platform), **extra})

    async def shown(self, kind: str, entity_id: str) -> dict[str, Any]:
        """A collection or payout (``kind``: ``collections``, ``payouts``) as the API shows it."""
        response = await self.client.get(f"/v1/{kind}/{entity_id}", headers=self.platform)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def deliver(self, expected: int) -> list[Received]:
        """Wait for ``expected`` webhooks from the sandbox and hand each to Sika, in order."""
        received = await self.sandbox.receiver.wait_for(expected)
        for webhook in received:
            response = await deliver(self.client, webhook)
            assert response.status_code == 200, response.text
        return received

    async def run_jobs(self) -> None:
        await run_jobs(self.database_url, self.settings)

    async def footprint(self) -> dict[str, int]:
        """Row counts of every table a flow writes, the jobs requests deferred, and what
        the sandbox received: a refusal leaves all of it as it was."""
        counted = {table: await count(self.sessions, table) for table in FOOTPRINT_TABLES}
        counted["jobs"] = await count(self.sessions, "procrastinate_jobs", REQUESTED_JOBS)
        for kind in ("payments", "payouts"):
            counted[f"sandbox {kind}"] = len(await self.sandbox.listed(kind))
        return counted
