"""Mandates over HTTP: created from the sender's wallet into the mandate's own
account, spent at allowed merchants and payees (paid straight to them, less the
platform's fee), topped up, revoked and consumed, each with its events and audit
rows; the catalogue's certification is an operator's alone, and the beneficiary
never holds the money."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, invariants
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.wallets.service.fees import fee_account_id
from tests.mandates.conftest import SENDER_FUNDS, Cast, act, available, create, events_of, made, scalar
from tests.support.ledger import balance, snapshot
from tests.support.operations import rows_beside_answers

Sessions = async_sessionmaker[AsyncSession]


async def check_clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def test_created_bought_topped_up_and_revoked(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    patched = await client.patch(
        f"/v1/platforms/{DEFAULT_PLATFORM_ID}", json={"fee_policy": {"XOF": {"percent_bps": 200}}}, headers=cast.admin
    )
    assert patched.status_code == 200, patched.text
    mandate = await create(client, cast, 20_000, max_purchase_minor=15_000)
    assert (mandate["status"], mandate["remaining_minor"], mandate["funded_minor"]) == ("active", 20_000, 20_000)
    assert await available(client, cast.platform, cast.sender.wallet_id) == SENDER_FUNDS - 20_000
    account = await scalar(sessions, "SELECT account_id FROM mandates WHERE id = :id", id=mandate["id"])
    assert (await balance(sessions, account)).posted_minor == 20_000

    bought = await act(
        client, mandate, "purchases", cast.beneficiary.headers,
        {"merchant_id": cast.school["id"], "amount_minor": 12_000, "reference": "term 1"},
    )  # fmt: skip
    assert bought.status_code == 201, bought.text
    assert (bought.json()["amount_minor"], bought.json()["fee_minor"]) == (12_000, 240)
    assert await available(client, cast.platform, cast.school_owner.wallet_id) == 12_000 - 240
    assert await available(client, cast.platform, cast.beneficiary.wallet_id) == 0
    assert (await balance(sessions, fee_account_id(DEFAULT_PLATFORM_ID, "XOF"))).posted_minor == 240

    topped = await act(client, mandate, "top-ups", cast.sender.headers, {"amount_minor": 5_000})
    assert topped.status_code == 200, topped.text
    assert (topped.json()["funded_minor"], topped.json()["remaining_minor"]) == (25_000, 13_000)

    revoked = await act(client, mandate, "revoke", cast.sender.headers)
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["returned_minor"], revoked.json()["remaining_minor"]) == (
        "revoked",
        13_000,
        0,
    )
    assert await available(client, cast.platform, cast.sender.wallet_id) == SENDER_FUNDS - 12_000
    assert (await balance(sessions, account)).posted_minor == 0
    assert await events_of(sessions, mandate["id"]) == [
        "mandate.created",
        "mandate.purchase_succeeded",
        "mandate.topped_up",
        "mandate.revoked",
    ]
    receipt = await scalar(
        sessions, "SELECT party_id FROM events WHERE type = 'mandate.purchase_succeeded' AND entity_id = :id",
        id=mandate["id"],
    )  # fmt: skip
    assert receipt == cast.sender.party_id
    audited = await scalar(
        sessions, "SELECT array_agg(action ORDER BY seq) FROM audit_events WHERE entity_id = :id", id=mandate["id"]
    )
    assert audited == ["mandate.created", "mandate.purchase_succeeded", "mandate.topped_up", "mandate.revoked"]
    purchases = (await client.get(f"/v1/mandates/{mandate['id']}/purchases", headers=cast.sender.headers)).json()
    assert [p["reference"] for p in purchases["data"]] == ["term 1"]
    await check_clean(sessions)


async def test_consumed_when_nothing_is_left(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    mandate = await create(client, cast, 8_000)
    body = {"merchant_id": cast.school["id"], "amount_minor": 8_000, "reference": "all of it"}
    assert (await act(client, mandate, "purchases", cast.beneficiary.headers, body)).status_code == 201
    shown = (await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.beneficiary.headers)).json()
    assert (shown["status"], shown["remaining_minor"], shown["spent_minor"]) == ("consumed", 0, 8_000)
    assert shown["ended_at"] is not None
    assert (await events_of(sessions, mandate["id"]))[-1] == "mandate.consumed"
    again = await create(client, cast, 1_000)
    assert again["status"] == "active", "the pair may have a new mandate once the last one ended"
    await check_clean(sessions)


async def test_the_sender_creates_with_its_own_token(client: httpx.AsyncClient, cast: Cast) -> None:
    from tests.mandates.conftest import mandate_body

    mine = await client.post("/v1/mandates", json=mandate_body(cast, 1_000), headers=cast.sender.headers)
    assert mine.status_code == 201, mine.text
    theirs = mandate_body(cast, 1_000, sender_party_id=cast.other.party_id, beneficiary_party_id=cast.sender.party_id)
    refused = await client.post("/v1/mandates", json=theirs, headers=cast.sender.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_owned_by_party")


async def test_payees_are_paid_within_their_limits(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    mandate = await create(client, cast, 20_000)
    added = await act(
        client, mandate, "payees", cast.sender.headers,
        {"party_id": cast.payee.party_id, "daily_limit_minor": 3_000, "total_limit_minor": 5_000},
    )  # fmt: skip
    assert added.status_code == 201, added.text
    payee = added.json()["payees"][0]
    spend = {"payee_id": payee["id"], "amount_minor": 2_000, "reference": "rent"}
    assert (await act(client, mandate, "spends", cast.beneficiary.headers, spend)).status_code == 201
    over_day = await act(client, mandate, "spends", cast.beneficiary.headers, spend)
    assert (over_day.status_code, over_day.json()["code"]) == (409, "mandate_daily_limit_exceeded")
    shown = (await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.sender.headers)).json()
    assert (shown["payees"][0]["spent_today_minor"], shown["payees"][0]["spent_minor"]) == (2_000, 2_000)
    assert shown["remaining_minor"] == 18_000
    assert await available(client, cast.platform, cast.payee.wallet_id) == 2_000
    await check_clean(sessions)


async def test_two_identical_spends_with_two_keys_are_two_payments(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    mandate = await create(client, cast, 20_000)
    added = await act(
        client, mandate, "payees", cast.platform, {"party_id": cast.payee.party_id, "daily_limit_minor": 10_000}
    )
    payee = added.json()["payees"][0]
    spend = {"payee_id": payee["id"], "amount_minor": 1_500, "reference": "groceries"}
    answers = [
        await client.post(
            f"/v1/mandates/{mandate['id']}/spends",
            json=spend,
            headers={**cast.beneficiary.headers, "Idempotency-Key": key},
        )
        for key in ("first", "second", "second")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert answers[1].json() == answers[2].json(), "the same key replays its answer"
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert await available(client, cast.platform, cast.payee.wallet_id) == 3_000
    await check_clean(sessions)


async def test_only_an_operator_certifies(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    path = f"/v1/merchants/{cast.pharmacy['id']}/certify"
    before = await rows_beside_answers(sessions)
    for headers in (cast.platform, cast.beneficiary.headers):
        refused = await client.post(path, json={}, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied"), refused.text
    assert await rows_beside_answers(sessions) == before
    assert (await client.get(f"/v1/merchants/{cast.pharmacy['id']}", headers=cast.platform)).json()[
        "certified"
    ] is False
    for headers in (cast.support, cast.admin):
        certified = await made(client, path, {}, headers)
        assert certified["certified"] is True
        undone = await made(client, f"/v1/merchants/{cast.pharmacy['id']}/decertify", {}, headers)
        assert undone["certified"] is False
    actions = await scalar(
        sessions,
        "SELECT array_agg(action ORDER BY seq) FROM audit_events WHERE entity_id = :id",
        id=cast.pharmacy["id"],
    )
    assert actions == ["merchant.certified", "merchant.decertified"] * 2


async def test_the_beneficiary_cannot_pay_out_mandate_money(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    mandate = await create(client, cast, 20_000)
    account = await scalar(sessions, "SELECT account_id FROM mandates WHERE id = :id", id=mandate["id"])
    before = (await snapshot(sessions), await rows_beside_answers(sessions))
    payout = {
        "party_id": cast.beneficiary.party_id,
        "wallet_id": cast.beneficiary.wallet_id,
        "amount_minor": 5_000,
        "currency": "XOF",
        "destination": {"operator": "mtn", "phone": "+2250700000001"},
        "recipient_name": "Kofi Student",
        "reason": "withdrawal",
    }
    refused = await client.post("/v1/payouts", json=payout, headers=cast.beneficiary.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied"), refused.text
    # Nor can the platform pay it out through the beneficiary's wallet: the money never went there.
    by_platform = await client.post("/v1/payouts", json=payout, headers=cast.platform)
    assert (by_platform.status_code, by_platform.json()["code"]) == (409, "insufficient_funds"), by_platform.text
    moved = {
        "debit_account_id": account,
        "credit_account_id": account,
        "amount_minor": 1,
        "currency": "XOF",
        "code": "x",
    }
    by_ledger = await client.post("/v1/ledger/transfers", json=moved, headers=cast.beneficiary.headers)
    assert by_ledger.status_code in (401, 403), by_ledger.text
    hold = await client.post(
        f"/v1/wallets/{cast.sender.wallet_id}/holds",
        json={"amount_minor": 1, "reason": "x"},
        headers=cast.beneficiary.headers,
    )
    assert (hold.status_code, hold.json()["code"]) == (403, "not_owned_by_party")
    assert (await snapshot(sessions), await rows_beside_answers(sessions)) == before


async def test_lists_and_a_party_sees_its_own(client: httpx.AsyncClient, cast: Cast) -> None:
    mandate = await create(client, cast, 1_000)
    for headers in (cast.sender.headers, cast.beneficiary.headers, cast.platform, cast.support):
        listed = (await client.get("/v1/mandates", headers=headers)).json()
        assert [m["id"] for m in listed["data"]] == [mandate["id"]]
    assert (await client.get("/v1/mandates", headers=cast.other.headers)).json()["data"] == []
    hidden = await client.get(f"/v1/mandates/{mandate['id']}", headers=cast.other.headers)
    assert (hidden.status_code, hidden.json()["code"]) == (403, "not_owned_by_party")
    merchants = (
        await client.get("/v1/merchants", params={"certified": "true"}, headers=cast.beneficiary.headers)
    ).json()
    assert [m["id"] for m in merchants["data"]] == [cast.school["id"]]
    categories = (await client.get("/v1/spend-categories", headers=cast.platform)).json()
    assert [(c["code"], c["label_fr"]) for c in categories["data"]] == [
        ("pharmacy", "Pharmacie"),
        ("school", "Frais de scolarité"),
    ]


async def test_the_mandate_account_is_managed(client: httpx.AsyncClient, cast: Cast, sessions: Sessions) -> None:
    """Only the mandate's own flows move its money: the raw ledger API refuses its account."""
    mandate = await create(client, cast, 1_000)
    account = await scalar(sessions, "SELECT account_id FROM mandates WHERE id = :id", id=mandate["id"])
    beneficiary = await scalar(sessions, "SELECT account_id FROM wallets WHERE id = :id", id=cast.beneficiary.wallet_id)
    before = await snapshot(sessions)
    transfer = {
        "debit_account_id": account,
        "credit_account_id": beneficiary,
        "amount_minor": 1_000,
        "currency": "XOF",
        "code": "withdraw",
    }
    response = await client.post("/v1/ledger/transfers", json=transfer, headers=cast.platform)
    assert (response.status_code, response.json()["code"]) == (409, "account_managed")
    assert await snapshot(sessions) == before


async def test_a_payees_day_is_the_platforms_time_zone(
    client: httpx.AsyncClient, cast: Cast, sessions: Sessions
) -> None:
    """UTC+14 and UTC-11 are 25 hours apart: at any instant their dates differ, so a
    payee's daily limit is spent again once the platform's day is another."""
    mandate = await create(client, cast, 20_000)
    added = await act(
        client, mandate, "payees", cast.platform, {"party_id": cast.payee.party_id, "daily_limit_minor": 1_000}
    )
    spend = {"payee_id": added.json()["payees"][0]["id"], "amount_minor": 1_000, "reference": "rent"}
    days = []
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        patched = await client.patch(
            f"/v1/platforms/{DEFAULT_PLATFORM_ID}", json={"settings": {"time_zone": zone}}, headers=cast.admin
        )
        assert patched.status_code == 200, patched.text
        spent = await act(client, mandate, "spends", cast.beneficiary.headers, spend)
        assert spent.status_code == 201, spent.text
        assert spent.json()["day"] == datetime.now(ZoneInfo(zone)).date().isoformat()
        days.append(spent.json()["day"])
        again = await act(client, mandate, "spends", cast.beneficiary.headers, spend)
        assert (again.status_code, again.json()["code"]) == (409, "mandate_daily_limit_exceeded")
    assert days[0] != days[1]
    assert await available(client, cast.platform, cast.payee.wallet_id) == 2_000
    await check_clean(sessions)
