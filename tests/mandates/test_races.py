"""Mandates under concurrency: 100 purchases from several API processes against a
mandate covering exactly N of them; 50 spends at once against a payee's daily limit,
then its total limit; two workers expiring the same mandates; purchases racing the
expiry. Each time the money moves exactly as far as the rules allow, once, and the
invariants (``sika check`` among them) are clean."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, invariants
from sika.core.context import system_actor
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.mandates import service as mandates_service
from sika.wallets.service.fees import fee_account_id
from tests.mandates.conftest import SENDER_FUNDS, Cast, act, available, create, scalar, sika_check
from tests.support import idempotency as idempotency_hooks
from tests.support.ledger import balance
from tests.support.server import live_api
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]
JOB = system_actor("test.mandates.expire")

PURCHASES = 100
COVERED = 37
PRICE_MINOR = 500
API_PROCESSES = 3
REQUEST_TIMEOUT_SECONDS = 60.0


async def check_clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


@pytest.mark.slow
async def test_100_purchases_from_several_processes_against_a_mandate_covering_n(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, database_url: str
) -> None:
    patched = await client.patch(
        f"/v1/platforms/{DEFAULT_PLATFORM_ID}", json={"fee_policy": {"XOF": {"fixed_minor": 25}}}, headers=cast.admin
    )
    assert patched.status_code == 200, patched.text
    mandate = await create(client, cast, COVERED * PRICE_MINOR)
    body = {"merchant_id": cast.school["id"], "amount_minor": PRICE_MINOR}
    with live_api(database_url, workers=API_PROCESSES) as base_url:
        limits = httpx.Limits(max_connections=PURCHASES, max_keepalive_connections=PURCHASES)
        async with httpx.AsyncClient(
            base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits, event_hooks=idempotency_hooks.HOOKS
        ) as api:
            answers = await all_of(
                *(
                    api.post(
                        f"/v1/mandates/{mandate['id']}/purchases",
                        json={**body, "reference": f"book {n}"},
                        headers=cast.beneficiary.headers,
                    )
                    for n in range(PURCHASES)
                )
            )
    said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
    assert said == {(201, None): COVERED, (409, "mandate_insufficient"): PURCHASES - COVERED}, said
    shown = (await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.platform)).json()
    assert (shown["status"], shown["spent_minor"], shown["remaining_minor"]) == ("consumed", COVERED * PRICE_MINOR, 0)
    assert await available(client, cast.platform, cast.school_owner.wallet_id) == COVERED * (PRICE_MINOR - 25)
    assert (await balance(sessions, fee_account_id(DEFAULT_PLATFORM_ID, "XOF"))).posted_minor == COVERED * 25
    assert await available(client, cast.platform, cast.sender.wallet_id) == SENDER_FUNDS - COVERED * PRICE_MINOR
    purchases = await scalar(
        sessions, "SELECT count(*) FROM mandate_purchases WHERE mandate_id = :id", id=mandate["id"]
    )
    assert purchases == COVERED
    checked = await asyncio.to_thread(sika_check, database_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


SPENDS = 50
SPEND_MINOR = 700
LIMIT_MINOR = 10_000
"""Fourteen spends fit (9,800); the fifteenth would pass it."""


@pytest.mark.parametrize("limit", ["daily_limit_minor", "total_limit_minor"])
async def test_50_spends_at_once_stay_within_a_limit_and_fill_it(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, limit: str
) -> None:
    mandate = await create(client, cast, 50_000)
    added = await act(
        client, mandate, "payees", cast.sender.headers, {"party_id": cast.payee.party_id, limit: LIMIT_MINOR}
    )
    payee = added.json()["payees"][0]["id"]
    spend = {"payee_id": payee, "amount_minor": SPEND_MINOR, "reference": "same every time"}
    answers = await all_of(*(act(client, mandate, "spends", cast.beneficiary.headers, spend) for _ in range(SPENDS)))
    said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
    fits = LIMIT_MINOR // SPEND_MINOR
    refused = "mandate_daily_limit_exceeded" if limit == "daily_limit_minor" else "mandate_total_limit_exceeded"
    assert said == {(201, None): fits, (409, refused): SPENDS - fits}, said
    assert await available(client, cast.platform, cast.payee.wallet_id) == fits * SPEND_MINOR
    shown = (await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.platform)).json()
    assert shown["payees"][0]["spent_minor"] == fits * SPEND_MINOR
    assert shown["remaining_minor"] == 50_000 - fits * SPEND_MINOR
    await check_clean(sessions)


MANDATES = 24


async def _expiring(client: httpx.AsyncClient, cast: Cast, sessions: Sessions, at: datetime) -> list[dict[str, Any]]:
    """``MANDATES`` mandates of 1,000 from the cast's sender, one per beneficiary, expiring ``at``."""
    made = []
    for n in range(MANDATES):
        party = await client.post(
            "/v1/parties",
            json={"display_name": f"Child {n}", "type": "individual", "country": "SN"},
            headers=cast.platform,
        )
        made.append(await create(client, cast, 1_000, beneficiary_party_id=party.json()["id"]))
    async with db.transaction(sessions) as session:
        await session.execute(
            sa.text("UPDATE mandates SET expires_at = :at WHERE id = ANY(:ids)"),
            {"at": at, "ids": [m["id"] for m in made]},
        )
    return made


async def _expire_all(sessions: Sessions, *, now: datetime, until: int | None = None) -> int:
    """The job's batches (of 3) until one finds nothing (or, with ``until``, until that
    many have ended: a batch skips the mandates a request holds, the job comes back)."""
    ended = 0
    while True:
        async with db.transaction(sessions) as session:
            expired = await mandates_service.expire_due(session, now=now, actor=JOB, limit=3)
        ended += expired.mandates
        if until is None and expired.mandates == 0:
            return ended
        if until is not None and ended >= until:
            return ended
        if expired.mandates == 0:
            await asyncio.sleep(0.05)


async def test_two_workers_expiring_at_once_return_each_remainder_once(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    mandates = await _expiring(client, cast, sessions, clock.now() - timedelta(minutes=1))
    both = await all_of(_expire_all(sessions, now=clock.now()), _expire_all(sessions, now=clock.now()))
    assert sum(both) == MANDATES, both
    assert await all_of(_expire_all(sessions, now=clock.now()), _expire_all(sessions, now=clock.now())) == [0, 0]
    returns = await scalar(sessions, "SELECT count(*) FROM ledger_transfers WHERE id LIKE 'man\\_%.return'")
    assert returns == MANDATES
    events = await scalar(sessions, "SELECT count(*) FROM events WHERE type = 'mandate.expired'")
    assert events == MANDATES
    assert await available(client, cast.platform, cast.sender.wallet_id) == SENDER_FUNDS
    statuses = {(await client.get(f"/v1/mandates/{m['id']}", headers=cast.platform)).json()["status"] for m in mandates}
    assert statuses == {"expired"}
    await check_clean(sessions)


async def test_a_purchase_racing_the_expiry_is_paid_before_it_or_refused(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    expiry = clock.now() + timedelta(minutes=5)
    mandates = await _expiring(client, cast, sessions, expiry)
    body = {"merchant_id": cast.school["id"], "amount_minor": 400, "reference": "uniform"}
    purchases = [act(client, mandate, "purchases", cast.platform, body) for mandate in mandates]
    # The job runs as if the expiry had come, while the purchases still see it ahead.
    job = asyncio.ensure_future(_expire_all(sessions, now=expiry, until=MANDATES))
    try:
        answers = await all_of(*purchases)
    finally:
        assert await job == MANDATES
    said = Counter((answer.status_code, answer.json().get("code")) for answer in answers)
    assert set(said) <= {(201, None), (409, "mandate_not_active")}, said
    bought = said[(201, None)]
    for mandate, answer in zip(mandates, answers, strict=True):
        shown = (await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.platform)).json()
        spent = 400 if answer.status_code == 201 else 0
        assert (shown["status"], shown["spent_minor"], shown["returned_minor"]) == ("expired", spent, 1_000 - spent)
    assert await available(client, cast.platform, cast.sender.wallet_id) == SENDER_FUNDS - bought * 400
    assert await available(client, cast.platform, cast.school_owner.wallet_id) == bought * 400
    await check_clean(sessions)
