"""Promo codes over HTTP. A platform key creates and deactivates its
platform's codes (an admin key names the platform); platform, support and read
keys list and read them. No route here moves money: a code is redeemed by the
payment flow that uses it (``sika.promos.service.reserve``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.promos import schemas
from sika.promos import service as promos_service

router = APIRouter(prefix="/promo-codes", tags=["promo codes"], route_class=UnitOfWorkRoute)
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]


@router.post("", status_code=201, response_model=schemas.PromoCodeOut)
async def create_promo_code(
    body: schemas.PromoCodeCreate, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PromoCodeOut:
    """409 ``promo_code_exists`` when the platform has the same code in any case."""
    return promos_service.out(await promos_service.create_code(session, body=body, actor=actor, now=clock.now()))


@router.get("", response_model=schemas.PromoCodePage)
async def list_promo_codes(
    session: Session, actor: Reader, page: Page, active: bool | None = None
) -> schemas.PromoCodePage:
    """Newest first; ``active`` keeps the active (or inactive) codes."""
    codes = await promos_service.list_codes(session, active=active, page=page)
    return schemas.PromoCodePage(
        data=[promos_service.out(c) for c in codes], next_cursor=next_cursor(codes, page.limit)
    )


@router.get("/{promo_code_id}", response_model=schemas.PromoCodeOut)
async def get_promo_code(promo_code_id: str, session: Session, actor: Reader) -> schemas.PromoCodeOut:
    return promos_service.out(await promos_service.get_code(session, promo_code_id=promo_code_id))


@router.post("/{promo_code_id}/deactivate", response_model=schemas.PromoCodeOut)
async def deactivate_promo_code(
    promo_code_id: str, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PromoCodeOut:
    """No new reservation takes the code; those already made are confirmed or freed as usual."""
    promo = await promos_service.deactivate(session, promo_code_id=promo_code_id, actor=actor, now=clock.now())
    return promos_service.out(promo)
