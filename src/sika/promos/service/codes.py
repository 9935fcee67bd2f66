"""A platform's promo codes: creating, reading, listing, deactivating. Each
change writes its event (``promo_code.created``, ``promo_code.deactivated``)
and its audit row in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import ids, money, paging
from sika.core.context import Actor
from sika.events import service as events_service
from sika.platforms import service as platforms_service
from sika.promos import repository, schemas
from sika.promos.models import PromoCode
from sika.promos.service.errors import PromoCodeExists, PromoCodeExpiryInvalid, PromoCodeNotFound

UNIQUE_CODE = "uq_promo_codes_platform_code"


async def create_code(
    session: AsyncSession, *, body: schemas.PromoCodeCreate, actor: Actor, now: datetime
) -> PromoCode:
    """A new code of the caller's platform (an admin names it); 409 ``promo_code_exists``
    when the platform has the same code in any case."""
    platform_id = await platforms_service.platform_for_new(session, actor=actor, requested=body.platform_id)
    if body.currency is not None:
        money.check_currency(body.currency)
    starts_at = body.starts_at or now
    if body.expires_at is not None and body.expires_at <= starts_at:
        raise PromoCodeExpiryInvalid()
    promo = PromoCode(
        id=ids.new_id("promo"),
        platform_id=platform_id,
        **body.model_dump(exclude={"platform_id", "starts_at"}),
        starts_at=starts_at,
        uses=0,
        created_by=actor.id,
        created_at=now,
        deactivated_at=None,
    )
    await _insert(session, promo)
    await _announce(session, promo, "promo_code.created", actor=actor, now=now)
    return promo


async def _insert(session: AsyncSession, promo: PromoCode) -> None:
    """Insert the code; the unique index on ``(platform_id, lower(code))`` decides,
    also between two requests creating the same code at once."""
    try:
        async with session.begin_nested():
            await repository.add(session, promo)
    except IntegrityError as refused:
        if UNIQUE_CODE not in str(refused.orig):
            raise
        raise PromoCodeExists(f"The platform already has promo code {promo.code!r} (codes ignore case).") from None


async def get_code(session: AsyncSession, *, promo_code_id: str) -> PromoCode:
    promo = await repository.get(session, promo_code_id)
    if promo is None:
        raise PromoCodeNotFound()
    return promo


async def list_codes(session: AsyncSession, *, active: bool | None, page: paging.Page) -> Sequence[PromoCode]:
    """Newest first; the session's platform's only (tenancy filters them)."""
    return await repository.list_codes(session, active=active, page=page)


async def deactivate(session: AsyncSession, *, promo_code_id: str, actor: Actor, now: datetime) -> PromoCode:
    """No new reservation takes the code from now on (reservations already made
    are confirmed or freed as usual). Deactivating an inactive code changes nothing."""
    promo = await repository.lock(session, promo_code_id)
    if promo is None:
        raise PromoCodeNotFound()
    if not promo.active:
        return promo
    promo.active = False
    promo.deactivated_at = now
    await session.flush()
    await _announce(session, promo, "promo_code.deactivated", actor=actor, now=now)
    return promo


async def _announce(session: AsyncSession, promo: PromoCode, kind: str, *, actor: Actor, now: datetime) -> None:
    data = _described(promo)
    await events_service.emit(
        session,
        type=kind,
        entity_type="promo_code",
        entity_id=promo.id,
        platform_id=promo.platform_id,
        data=data,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        platform_id=promo.platform_id,
        action=kind,
        entity_type="promo_code",
        entity_id=promo.id,
        data=data,
    )


def _described(promo: PromoCode) -> dict[str, Any]:
    return schemas.PromoCodeOut.model_validate(promo, from_attributes=True).model_dump(
        mode="json", exclude={"seq", "platform_id", "created_at"}
    )


def state_of(promo: PromoCode, *, now: datetime) -> str:
    """In one word, whether the code would take a new use at ``now``: ``inactive``,
    ``scheduled`` (not valid yet), ``expired``, ``exhausted`` (at its total
    maximum) or ``active`` (a party may still be at its own maximum)."""
    if not promo.active:
        return "inactive"
    if now < promo.starts_at:
        return "scheduled"
    if promo.expires_at is not None and now >= promo.expires_at:
        return "expired"
    if promo.max_redemptions is not None and promo.uses >= promo.max_redemptions:
        return "exhausted"
    return "active"


def out(promo: PromoCode) -> schemas.PromoCodeOut:
    return schemas.PromoCodeOut.model_validate(promo, from_attributes=True)
