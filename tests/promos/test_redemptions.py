"""Checking a code names the first reason it is refused, and stores nothing;
reserving takes one use, exactly, however many reservations race; freeing gives
it back; the invariants agree."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import clock, db, errors, invariants
from sika.core.tenancy import DEFAULT_PLATFORM_ID
from sika.promos import service as promos_service
from sika.promos.models import PromoCode, PromoRedemption
from sika.promos.service import (
    PromoCodeAlreadyRedeemed,
    PromoCodeExhausted,
    PromoCodeExpired,
    PromoCodeInactive,
    PromoCodeInvalid,
    PromoCodeNotApplicable,
    PromoCodeNotYetValid,
    PromoRedemptionStateConflict,
)
from tests.conftest import TEST_ACTOR
from tests.promos.conftest import code, reserve, scalar
from tests.support.factories import create_party
from tests.support.operations import rows_beside_answers
from tests.support.platforms import create_platform, key_headers
from tests.support.tasks import all_of

Sessions = async_sessionmaker[AsyncSession]
RACERS = 10


async def _check(
    sessions: Sessions, text: str, party_id: str, *, currency: str = "XOF", plan_id: str | None = None
) -> PromoCode:
    async with db.transaction(sessions) as session:
        return await promos_service.check_code(
            session,
            platform_id=DEFAULT_PLATFORM_ID,
            code=text,
            party_id=party_id,
            currency=currency,
            plan_id=plan_id,
            at=clock.now(),
        )


async def _free(sessions: Sessions, promo: PromoCode, subject_id: str) -> PromoRedemption:
    async with db.transaction(sessions) as session:
        return await promos_service.free(session, subject_id=subject_id, promo_code_id=promo.id, now=clock.now())


async def _clean(sessions: Sessions) -> None:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    assert report.ok, [breach.describe() for breach in report.breaches]


async def test_a_known_code_is_found_whatever_its_case(sessions: Sessions, parties: list[str]) -> None:
    promo = await code(sessions)
    assert (await _check(sessions, "welcome10", parties[0])).id == promo.id


async def test_each_refusal_names_its_reason_in_order_and_stores_nothing(
    sessions: Sessions, parties: list[str]
) -> None:
    now = clock.now()
    await code(sessions, code="OFF", active=False, currency="EUR")
    await code(sessions, code="LATER", starts_at=now + timedelta(days=1))
    await code(sessions, code="GONE", starts_at=now - timedelta(days=2), expires_at=now - timedelta(days=1))
    await code(sessions, code="EUROS", amount_off_minor=500, percent_off_bps=None, currency="EUR")
    await code(sessions, code="PLANS", plan_ids=["plan_a"])
    used = await code(sessions, code="ONCE", max_redemptions=1)
    await reserve(sessions, used, "subject_1", parties[1])
    before = await rows_beside_answers(sessions)
    cases: list[tuple[str, str | None, type[errors.SikaError]]] = [
        ("NOPE", None, PromoCodeInvalid),
        ("off", None, PromoCodeInactive),  # inactive comes before the currency
        ("LATER", None, PromoCodeNotYetValid),
        ("GONE", None, PromoCodeExpired),
        ("EUROS", None, PromoCodeNotApplicable),
        ("PLANS", "plan_b", PromoCodeNotApplicable),
        ("ONCE", None, PromoCodeExhausted),
    ]
    for text, plan_id, refusal in cases:
        with pytest.raises(refusal) as refused:
            await _check(sessions, text, parties[0], plan_id=plan_id)
        assert refused.value.status == 422
    assert await rows_beside_answers(sessions) == before
    assert (await _check(sessions, "PLANS", parties[0], plan_id="plan_a")).code == "PLANS"


async def test_a_code_at_its_maximum_per_party_is_exhausted_for_that_party_only(
    sessions: Sessions, parties: list[str]
) -> None:
    promo = await code(sessions, max_redemptions_per_party=1)
    await reserve(sessions, promo, "subject_1", parties[0])
    with pytest.raises(PromoCodeExhausted) as refused:
        await _check(sessions, "WELCOME10", parties[0])
    assert refused.value.extra == {"limit": "per_party"}
    before = await rows_beside_answers(sessions)
    with pytest.raises(PromoCodeExhausted):
        await reserve(sessions, promo, "subject_2", parties[0])
    assert await rows_beside_answers(sessions) == before
    await reserve(sessions, promo, "subject_2", parties[1])
    await _clean(sessions)


async def test_one_redemption_per_subject_and_a_freed_one_is_reserved_again(
    sessions: Sessions, parties: list[str]
) -> None:
    promo = await code(sessions)
    first = await reserve(sessions, promo, "subject_1", parties[0])
    with pytest.raises(PromoCodeAlreadyRedeemed):
        await reserve(sessions, promo, "subject_1", parties[0])
    await _free(sessions, promo, "subject_1")
    assert await scalar(sessions, "SELECT uses FROM promo_codes WHERE id = :id", id=promo.id) == 0
    again = await reserve(sessions, promo, "subject_1", parties[0])
    assert again.id == first.id
    async with db.transaction(sessions) as session:
        confirmed = await promos_service.confirm(
            session, subject_id="subject_1", promo_code_id=promo.id, now=clock.now()
        )
    assert confirmed.state == "confirmed"
    with pytest.raises(PromoRedemptionStateConflict):
        await _free(sessions, promo, "subject_1")
    assert await scalar(sessions, "SELECT count(*) FROM promo_redemptions") == 1
    assert await scalar(sessions, "SELECT uses FROM promo_codes WHERE id = :id", id=promo.id) == 1
    await _clean(sessions)


async def test_a_deactivated_code_takes_no_new_reservation(sessions: Sessions, parties: list[str]) -> None:
    promo = await code(sessions)
    async with db.transaction(sessions) as session:
        await promos_service.deactivate(session, promo_code_id=promo.id, actor=TEST_ACTOR, now=clock.now())
    with pytest.raises(PromoCodeInactive):
        await reserve(sessions, promo, "subject_1", parties[0])
    assert await scalar(sessions, "SELECT count(*) FROM promo_redemptions") == 0


async def _race(sessions: Sessions, promo: PromoCode, subject_id: str, party_id: str) -> str:
    try:
        await reserve(sessions, promo, subject_id, party_id)
    except PromoCodeExhausted as refused:
        return f"exhausted:{refused.extra['limit']}"
    return "reserved"


async def test_ten_parallel_reservations_of_a_code_with_one_use_make_exactly_one(
    sessions: Sessions, parties: list[str]
) -> None:
    promo = await code(sessions, max_redemptions=1)
    answers = await all_of(*(_race(sessions, promo, f"subject_{n}", parties[n % 2]) for n in range(RACERS)))
    assert sorted(answers) == ["exhausted:total"] * (RACERS - 1) + ["reserved"]
    assert await scalar(sessions, "SELECT count(*) FROM promo_redemptions WHERE state = 'reserved'") == 1
    winner = await scalar(sessions, "SELECT subject_id FROM promo_redemptions")
    await _free(sessions, promo, winner)
    answers = await all_of(*(_race(sessions, promo, f"late_{n}", parties[0]) for n in range(RACERS)))
    assert sorted(answers) == ["exhausted:total"] * (RACERS - 1) + ["reserved"]
    assert await scalar(sessions, "SELECT uses FROM promo_codes WHERE id = :id", id=promo.id) == 1
    await _clean(sessions)


async def test_ten_parallel_reservations_by_one_party_keep_its_maximum(sessions: Sessions, parties: list[str]) -> None:
    promo = await code(sessions, max_redemptions=50, max_redemptions_per_party=2)
    answers = await all_of(*(_race(sessions, promo, f"subject_{n}", parties[0]) for n in range(RACERS)))
    assert sorted(answers) == ["exhausted:per_party"] * (RACERS - 2) + ["reserved"] * 2
    await _clean(sessions)


async def test_a_redemption_never_names_another_platforms_party(
    client: httpx.AsyncClient, sessions: Sessions, admin_headers: dict[str, str]
) -> None:
    promo = await code(sessions)
    other = await create_platform(client, admin_headers, name="Other shop")
    their_key = await key_headers(client, admin_headers, scopes=["platform"], platform_id=other["id"])
    theirs = await create_party(client, their_key, display_name="Other customer")
    with pytest.raises(IntegrityError, match="fk_promo_redemptions_party_platform"):
        await reserve(sessions, promo, "subject_1", theirs["id"])
    assert await scalar(sessions, "SELECT count(*) FROM promo_redemptions") == 0
    assert await scalar(sessions, "SELECT uses FROM promo_codes WHERE id = :id", id=promo.id) == 0
