"""Transfers between parties: one call moves money from the sender's wallet to
the recipient's, less the platform's fee, as one ledger entry, with its
event and audit row; read and listed per party and per wallet; refusals
move nothing."""

from __future__ import annotations

import httpx
import pytest

from sika.core import db, invariants
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.wallets.service.fees import fee_account_id
from tests.support.idempotency import NO_KEY
from tests.support.ledger import balance
from tests.transfers.conftest import SENDER_FUNDS, Cast, Sessions, Still, available, scalar, sent


async def check_clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def test_a_transfer_pays_the_recipient_less_the_platforms_fee(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    response = await client.patch(
        f"/v1/platforms/{DEFAULT_PLATFORM_ID}", json={"fee_policy": {"XOF": {"percent_bps": 100}}}, headers=cast.admin
    )
    assert response.status_code == 200
    transfer = await sent(
        client, cast.sender.headers, cast.sender, cast.recipient, 10_000, reference="rent-11", metadata={"month": "11"}
    )
    assert transfer["id"].startswith("trf_")
    assert (transfer["amount_minor"], transfer["fee_minor"], transfer["received_minor"]) == (10_000, 100, 9_900)
    assert (transfer["sender_party_id"], transfer["recipient_party_id"]) == (
        cast.sender.party_id,
        cast.recipient.party_id,
    )
    assert (transfer["status"], transfer["reference"], transfer["metadata"]) == (
        "succeeded",
        "rent-11",
        {"month": "11"},
    )
    assert await available(client, cast, cast.sender) == SENDER_FUNDS - 10_000
    assert await available(client, cast, cast.recipient) == 9_900
    assert (await balance(sessions, fee_account_id(DEFAULT_PLATFORM_ID, "XOF"))).posted_minor == 100
    journal = await scalar(sessions, "SELECT journal_id FROM ledger_transfers WHERE id = :id", id=transfer["id"])
    fee_journal = await scalar(
        sessions, "SELECT journal_id FROM ledger_transfers WHERE id = :id", id=f"{transfer['id']}.fee"
    )
    assert journal is not None
    assert journal == fee_journal
    assert (
        await scalar(sessions, "SELECT type FROM events WHERE entity_id = :id", id=transfer["id"])
        == "transfer.succeeded"
    )
    actions = await scalar(
        sessions, "SELECT array_agg(action ORDER BY seq) FROM audit_events WHERE entity_id = :id", id=transfer["id"]
    )
    assert "transfer.created" in actions
    await check_clean(sessions)


async def test_read_and_listed_by_party_and_wallet_newest_first(client: httpx.AsyncClient, cast: Cast) -> None:
    first = await sent(client, cast.platform, cast.sender, cast.recipient, 1_000)
    second = await sent(client, cast.platform, cast.sender, cast.other, 2_000)
    by_sender = (await client.get(f"/v1/transfers?party_id={cast.sender.party_id}", headers=cast.read)).json()
    assert [t["id"] for t in by_sender["data"]] == [second["id"], first["id"]]
    by_wallet = (await client.get(f"/v1/transfers?wallet_id={cast.recipient.wallet_id}", headers=cast.support)).json()
    assert [t["id"] for t in by_wallet["data"]] == [first["id"]]
    mine = (await client.get("/v1/transfers", headers=cast.other.headers)).json()
    assert [t["id"] for t in mine["data"]] == [second["id"]]
    shown = await client.get(f"/v1/transfers/{first['id']}", headers=cast.recipient.headers)
    assert shown.json() == first
    hidden = await client.get(f"/v1/transfers/{first['id']}", headers=cast.other.headers)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "party_transfer_not_found")


async def test_the_same_key_sends_once(client: httpx.AsyncClient, cast: Cast) -> None:
    headers = {**cast.sender.headers, "Idempotency-Key": "rent-november"}
    first = await sent(client, headers, cast.sender, cast.recipient, 5_000)
    again = await sent(client, headers, cast.sender, cast.recipient, 5_000)
    assert again == first
    assert await available(client, cast, cast.recipient) == 5_000


async def test_a_key_is_required(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    still = await Still.now(sessions)
    body = {
        "source_wallet_id": cast.sender.wallet_id,
        "destination_wallet_id": cast.recipient.wallet_id,
        "amount_minor": 1,
    }
    response = await client.post("/v1/transfers", json=body, headers=cast.platform, extensions=NO_KEY)
    assert (response.status_code, response.json()["code"]) == (428, "idempotency_key_required")
    await still.assert_nothing_moved(sessions)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("too_much", 409, "insufficient_funds"),
        ("to_itself", 422, "transfer_same_party"),
        ("other_currency", 422, "currency_mismatch"),
        ("from_another_party", 403, "not_owned_by_party"),
        ("suspended_sender", 409, "party_suspended"),
    ],
)
async def test_a_refused_transfer_moves_nothing(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions, case: str, status: int, code: str
) -> None:
    source, destination, amount, headers = cast.sender, cast.recipient.wallet_id, 1_000, cast.sender.headers
    if case == "too_much":
        amount = SENDER_FUNDS + 1
    elif case == "to_itself":
        destination = cast.sender.wallet_id
    elif case == "other_currency":
        opened = await client.post(
            f"/v1/parties/{cast.recipient.party_id}/wallets", json={"currency": "GHS"}, headers=cast.platform
        )
        destination = opened.json()["id"]
    elif case == "from_another_party":
        headers = cast.other.headers
    else:
        suspended = await client.patch(
            f"/v1/parties/{cast.sender.party_id}", json={"status": "suspended"}, headers=cast.platform
        )
        assert suspended.status_code == 200
        headers = cast.platform
    still = await Still.now(sessions)
    body = {"source_wallet_id": source.wallet_id, "destination_wallet_id": destination, "amount_minor": amount}
    response = await client.post("/v1/transfers", json=body, headers=headers)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    await still.assert_nothing_moved(sessions)
