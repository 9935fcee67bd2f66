"""Platforms, the tenants of the installation: created and changed by an admin
key bound to no platform; a platform's own keys read their platform."""

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
from sika.platforms import schemas
from sika.platforms import service as platforms_service

router = APIRouter(prefix="/platforms", tags=["platforms"], route_class=UnitOfWorkRoute)
admin = authorize(Scope.admin)
Admin = Annotated[Actor, Depends(admin)]
AdminClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(admin))]
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]


@router.post("", status_code=201, response_model=schemas.PlatformOut)
async def create_platform(
    body: schemas.PlatformCreate, session: Session, actor: Admin, claim: AdminClaim
) -> schemas.PlatformOut:
    platform = await platforms_service.create_platform(session, body=body, actor=actor, now=clock.now())
    return schemas.PlatformOut.model_validate(platform)


@router.get("", response_model=schemas.PlatformPage)
async def list_platforms(session: Session, actor: Reader, page: Page) -> schemas.PlatformPage:
    """Every platform for a global operator; a platform's own key sees its own."""
    platforms = await platforms_service.list_platforms(session, page=page)
    return schemas.PlatformPage(
        data=[schemas.PlatformOut.model_validate(p) for p in platforms],
        next_cursor=next_cursor(platforms, page.limit),
    )


@router.get("/{platform_id}", response_model=schemas.PlatformOut)
async def get_platform(platform_id: str, session: Session, actor: Reader) -> schemas.PlatformOut:
    platform = await platforms_service.get_platform(session, platform_id=platform_id)
    return schemas.PlatformOut.model_validate(platform)


@router.patch("/{platform_id}", response_model=schemas.PlatformOut)
async def update_platform(
    platform_id: str, body: schemas.PlatformUpdate, session: Session, actor: Admin
) -> schemas.PlatformOut:
    platform = await platforms_service.update_platform(
        session, platform_id=platform_id, body=body, actor=actor, now=clock.now()
    )
    return schemas.PlatformOut.model_validate(platform)
