"""Promo codes over HTTP: a platform creates its codes (unique per platform
whatever their case, another platform may use the same), lists, reads and
deactivates them (an event and an audit row each); a refusal stores nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from sika.api.messages_fr import DETAILS_FR
from sika.api.problems import domain_problem
from sika.promos.service import PromoCodeExhausted, PromoCodeNotYetValid
from tests.promos.conftest import scalar
from tests.support.operations import rows_beside_answers
from tests.support.platforms import create_platform, key_headers

Sessions = async_sessionmaker[AsyncSession]
Headers = dict[str, str]


async def _create(client: httpx.AsyncClient, headers: Headers, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/promo-codes", json={"code": "Welcome10", "percent_off_bps": 1_000, **body}, headers=headers
    )


async def test_a_platform_creates_lists_and_reads_its_codes(
    client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions
) -> None:
    made = await _create(client, platform_headers, max_redemptions=100, max_redemptions_per_party=1, plan_ids=["pln_1"])
    assert made.status_code == 201, made.text
    promo = made.json()
    assert promo["id"].startswith("promo_")
    assert (promo["code"], promo["uses"], promo["active"], promo["plan_ids"]) == ("Welcome10", 0, True, ["pln_1"])
    fixed = await _create(
        client, platform_headers, code="MINUS500", percent_off_bps=None, amount_off_minor=500, currency="XOF"
    )
    assert fixed.status_code == 201, fixed.text
    listed = (await client.get("/v1/promo-codes", headers=platform_headers)).json()
    assert [item["id"] for item in listed["data"]] == [fixed.json()["id"], promo["id"]]
    read = await client.get(f"/v1/promo-codes/{promo['id']}", headers=platform_headers)
    assert read.json() == promo
    events = await scalar(sessions, "SELECT count(*) FROM events WHERE type = 'promo_code.created'")
    audits = await scalar(sessions, "SELECT count(*) FROM audit_events WHERE action = 'promo_code.created'")
    assert (events, audits) == (2, 2)


async def test_a_code_is_unique_per_platform_whatever_its_case(
    client: httpx.AsyncClient, platform_headers: Headers, admin_headers: Headers, sessions: Sessions
) -> None:
    assert (await _create(client, platform_headers)).status_code == 201
    before = await rows_beside_answers(sessions)
    again = await _create(client, platform_headers, code="WELCOME10", percent_off_bps=2_000)
    assert (again.status_code, again.json()["code"]) == (409, "promo_code_exists")
    assert await rows_beside_answers(sessions) == before
    other = await create_platform(client, admin_headers, name="Boutique Abidjan")
    other_key = await key_headers(client, admin_headers, scopes=["platform"], platform_id=other["id"])
    theirs = await _create(client, other_key, code="welcome10")
    assert theirs.status_code == 201, theirs.text
    named = await _create(client, admin_headers, code="ADMIN5", platform_id=other["id"])
    assert (named.status_code, named.json()["platform_id"]) == (201, other["id"])
    mine = (await client.get("/v1/promo-codes", headers=platform_headers)).json()["data"]
    assert [item["code"] for item in mine] == ["Welcome10"]


async def test_a_bad_code_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions
) -> None:
    before = await rows_beside_answers(sessions)
    bodies: list[dict[str, Any]] = [
        {"percent_off_bps": 1_000, "amount_off_minor": 500, "currency": "XOF"},  # both discounts
        {"percent_off_bps": None, "amount_off_minor": 500},  # an amount without its currency
        {"percent_off_bps": 10_001},
        {"code": "two words"},
        {"starts_at": "2030-01-02T00:00:00Z", "expires_at": "2030-01-01T00:00:00Z"},
    ]
    for body in bodies:
        refused = await _create(client, platform_headers, **body)
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed"), body
    past = await _create(client, platform_headers, expires_at="2020-01-01T00:00:00Z")
    assert (past.status_code, past.json()["code"]) == (422, "promo_code_expiry_invalid")
    assert await rows_beside_answers(sessions) == before


async def test_deactivating_is_audited_once(
    client: httpx.AsyncClient, platform_headers: Headers, sessions: Sessions
) -> None:
    promo = (await _create(client, platform_headers)).json()
    for _ in range(2):
        answer = await client.post(f"/v1/promo-codes/{promo['id']}/deactivate", headers=platform_headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["active"] is False
    events = await scalar(sessions, "SELECT count(*) FROM events WHERE type = 'promo_code.deactivated'")
    audits = await scalar(sessions, "SELECT count(*) FROM audit_events WHERE action = 'promo_code.deactivated'")
    assert (events, audits) == (1, 1)
    inactive = (await client.get("/v1/promo-codes?active=false", headers=platform_headers)).json()["data"]
    assert [item["id"] for item in inactive] == [promo["id"]]
    missing = await client.post("/v1/promo-codes/promo_none/deactivate", headers=platform_headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "promo_code_not_found")


def _request(language: str) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/v1/x", "headers": [(b"accept-language", language.encode())]}
    )


def test_a_refused_code_is_a_422_problem_naming_its_reason_in_english_and_french() -> None:
    refusal = PromoCodeExhausted("Promo code 'X' has been used 1 of 1 times.", limit="total")
    english = json.loads(bytes(domain_problem(_request("en"), refusal).body))
    assert (english["status"], english["code"], english["limit"]) == (422, "promo_code_exhausted", "total")
    french = json.loads(bytes(domain_problem(_request("fr"), PromoCodeNotYetValid()).body))
    assert (french["code"], french["detail"]) == ("promo_code_not_yet_valid", DETAILS_FR["promo_code_not_yet_valid"])
