"""The promos' invariants find what a hand-made change or a broken flow would
leave: a code's count of uses apart from its redemptions, a code or a party
over its maximum."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db, invariants
from tests.promos.conftest import code, reserve

Sessions = async_sessionmaker[AsyncSession]


async def _breaches(sessions: Sessions) -> dict[str, list[str]]:
    async with db.transaction(sessions) as session:
        report = await invariants.check_all(session)
    found: dict[str, list[str]] = {}
    for breach in report.breaches:
        found.setdefault(breach.check, []).append(breach.entity_id)
    return found


async def _edit(sessions: Sessions, sql: str, promo_code_id: str) -> None:
    async with db.transaction(sessions) as session:
        await session.execute(sa.text(sql), {"id": promo_code_id})


async def test_uses_apart_from_the_redemptions_are_found(sessions: Sessions, parties: list[str]) -> None:
    promo = await code(sessions, max_redemptions=5)
    await reserve(sessions, promo, "subject_1", parties[0])
    assert await _breaches(sessions) == {}
    await _edit(sessions, "UPDATE promo_codes SET uses = 0 WHERE id = :id", promo.id)
    assert await _breaches(sessions) == {"promo_codes_uses": [promo.id]}


async def test_a_code_over_its_maximum_is_found(sessions: Sessions, parties: list[str]) -> None:
    promo = await code(sessions, max_redemptions=2)
    for n in range(2):
        await reserve(sessions, promo, f"subject_{n}", parties[0])
    await _edit(sessions, "UPDATE promo_codes SET max_redemptions = 1 WHERE id = :id", promo.id)
    assert await _breaches(sessions) == {"promo_codes_uses": [promo.id]}


async def test_a_party_over_its_maximum_is_found(sessions: Sessions, parties: list[str]) -> None:
    promo = await code(sessions, max_redemptions_per_party=2)
    for n in range(2):
        await reserve(sessions, promo, f"subject_{n}", parties[0])
    await reserve(sessions, promo, "subject_other", parties[1])
    await _edit(sessions, "UPDATE promo_codes SET max_redemptions_per_party = 1 WHERE id = :id", promo.id)
    assert await _breaches(sessions) == {"promo_codes_uses_per_party": [promo.id]}
