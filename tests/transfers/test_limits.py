"""Limits per certification level of the sender: per transfer, per day and per
30 days, the days being the platform's (its time zone); captures to another
party count against them like transfers; 50 transfers at once through several
server processes never pass a daily limit."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from sika.core import db
from sika.p2p import service as p2p_service
from sika.transfers import schemas
from sika.transfers import service as transfers_service
from tests.conftest import TEST_ACTOR
from tests.support.factories import Owner, owner
from tests.support.reads import sika_check
from tests.support.server import live_api
from tests.support.tasks import all_of
from tests.transfers.conftest import Cast, Sessions, Still, certify, send, sent, set_settings

PARALLEL = 50
AMOUNT = 700
DAILY_LIMIT = 10_000
WORKERS = 3
REQUEST_TIMEOUT_SECONDS = 60.0


async def test_the_per_transfer_limit_is_the_senders_level(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    limits = {"0": {"per_transfer_minor": 5_000}, "2": {"per_transfer_minor": 50_000}}
    await set_settings(client, cast, p2p_limits=limits)
    assert (await send(client, cast.sender.headers, cast.sender, cast.recipient, 5_000)).status_code == 201
    still = await Still.now(sessions)
    refused = await send(client, cast.sender.headers, cast.sender, cast.recipient, 5_001)
    assert (refused.status_code, refused.json()["code"]) == (409, "p2p_limit_exceeded")
    assert "5000 per transfer at level 0" in refused.json()["detail"]
    await still.assert_nothing_moved(sessions)
    await certify(client, cast, cast.sender, 3)  # above 2: the highest level listed at or below its own
    assert (await send(client, cast.platform, cast.sender, cast.recipient, 50_000)).status_code == 201


async def test_captures_count_against_the_daily_limit(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    await set_settings(client, cast, p2p_limits={"0": {"per_day_minor": 3_000}})
    await sent(client, cast.platform, cast.sender, cast.recipient, 2_000)
    placed = await client.post(
        f"/v1/wallets/{cast.sender.wallet_id}/holds", json={"amount_minor": 1_001, "reason": "x"}, headers=cast.platform
    )
    still = await Still.now(sessions)
    captured = await client.post(
        f"/v1/holds/{placed.json()['id']}/capture",
        json={"destination_wallet_id": cast.other.wallet_id},
        headers=cast.platform,
    )
    assert (captured.status_code, captured.json()["code"]) == (409, "p2p_limit_exceeded")
    await still.assert_nothing_moved(sessions)


async def _send_at(sessions: Sessions, cast: Cast, amount: int, at: datetime) -> None:
    body = schemas.TransferCreate(
        source_wallet_id=cast.sender.wallet_id, destination_wallet_id=cast.recipient.wallet_id, amount_minor=amount
    )
    async with db.transaction(sessions) as session:
        await transfers_service.send(session, body=body, actor=TEST_ACTOR, now=at)


async def test_the_day_is_the_platforms(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    """Kiritimati is 14 hours ahead of UTC: 09:00 and 10:30 UTC fall on two of its days."""
    await set_settings(client, cast, time_zone="Pacific/Kiritimati", p2p_limits={"0": {"per_day_minor": 10_000}})
    await _send_at(sessions, cast, 8_000, datetime.fromisoformat("2026-11-20T09:00:00+00:00"))
    with pytest.raises(p2p_service.LimitExceeded):
        await _send_at(sessions, cast, 8_000, datetime.fromisoformat("2026-11-20T09:59:00+00:00"))
    await _send_at(sessions, cast, 8_000, datetime.fromisoformat("2026-11-20T10:30:00+00:00"))


async def test_the_30_day_limit_forgets_the_31st_day_back(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    limits = {"0": {"per_day_minor": 10_000, "per_30_days_minor": 20_000}}
    await set_settings(client, cast, time_zone="Africa/Abidjan", p2p_limits=limits)
    first = datetime.fromisoformat("2026-10-01T12:00:00+00:00")
    await _send_at(sessions, cast, 8_000, first)
    await _send_at(sessions, cast, 8_000, first + timedelta(days=10))
    with pytest.raises(p2p_service.LimitExceeded, match="in 30 days"):
        await _send_at(sessions, cast, 8_000, first + timedelta(days=29))
    await _send_at(sessions, cast, 8_000, first + timedelta(days=30))


async def test_fifty_parallel_transfers_never_pass_the_daily_limit(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, database_url: str
) -> None:
    await set_settings(client, cast, p2p_limits={"0": {"per_day_minor": DAILY_LIMIT}})
    recipients: list[Owner] = [
        cast.recipient,
        cast.other,
        await owner(client, cast.platform, display_name="Fourth", phone="+221770000004"),
    ]
    with live_api(database_url, workers=WORKERS) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as api:
            answers = await all_of(
                *(
                    send(
                        api,
                        {**cast.sender.headers, "Idempotency-Key": f"parallel-{n}"},
                        cast.sender,
                        recipients[n % len(recipients)],
                        AMOUNT,
                    )
                    for n in range(PARALLEL)
                )
            )
    codes = [(answer.status_code, answer.json().get("code")) for answer in answers]
    assert set(codes) <= {(201, None), (409, "p2p_limit_exceeded")}, codes
    accepted = codes.count((201, None))
    assert accepted == DAILY_LIMIT // AMOUNT
    listed = (await client.get(f"/v1/transfers?party_id={cast.sender.party_id}&limit=200", headers=cast.read)).json()
    assert sum(t["amount_minor"] for t in listed["data"]) == accepted * AMOUNT <= DAILY_LIMIT
    checked = sika_check(database_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_the_newest_certification_decides(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    """A level taken back counts from the moment it is: the sender's for its limits,
    the recipient's for the ``certified`` policy."""
    limits = {"0": {"per_transfer_minor": 5_000}, "2": {"per_transfer_minor": 50_000}}
    await set_settings(client, cast, p2p_limits=limits, p2p_policy="certified", p2p_certified_level=1)
    await certify(client, cast, cast.recipient, 1)
    await certify(client, cast, cast.sender, 2)
    assert (await send(client, cast.platform, cast.sender, cast.recipient, 50_000)).status_code == 201

    await certify(client, cast, cast.sender, 0)
    still = await Still.now(sessions)
    refused = await send(client, cast.platform, cast.sender, cast.recipient, 5_001)
    assert (refused.status_code, refused.json()["code"]) == (409, "p2p_limit_exceeded")
    assert "5000 per transfer at level 0" in refused.json()["detail"]
    await still.assert_nothing_moved(sessions)

    await certify(client, cast, cast.recipient, 0)
    still = await Still.now(sessions)
    refused = await send(client, cast.platform, cast.sender, cast.recipient, 1_000)
    assert (refused.status_code, refused.json()["code"]) == (409, "p2p_recipient_not_certified")
    await still.assert_nothing_moved(sessions)
