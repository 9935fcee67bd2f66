"""API keys over HTTP (``/v1/api-keys``): admins create them (the secret shown once), list and revoke them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import decode_time_cursor, encode_time_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth import schemas
from sika.auth import service as auth_service
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.core.paging import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/api-keys", tags=["api-keys"], route_class=UnitOfWorkRoute)
admin = authorize(Scope.admin)
Admin = Annotated[Actor, Depends(admin)]
AdminClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(admin))]


@router.post("", status_code=201, response_model=schemas.ApiKeyCreated)
async def create_api_key(
    body: schemas.ApiKeyCreate, session: Session, actor: Admin, claim: AdminClaim
) -> schemas.ApiKeyCreated:
    created = await auth_service.create_key(
        session,
        name=body.name,
        scopes=[scope.value for scope in body.scopes],
        expires_at=body.expires_at,
        platform_id=body.platform_id,
        actor=actor,
    )
    out = schemas.ApiKeyOut.model_validate(created.key)
    return schemas.ApiKeyCreated(**out.model_dump(), secret=created.secret)


@router.get("", response_model=schemas.ApiKeyPage)
async def list_api_keys(
    session: Session,
    actor: Admin,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    include_revoked: bool = False,
) -> schemas.ApiKeyPage:
    """Newest first. Keys have no ``seq``: their cursor holds the last one's creation time and id."""
    keys = await auth_service.list_keys(
        session, include_revoked=include_revoked, after=decode_time_cursor(cursor), limit=limit
    )
    last = keys[-1] if len(keys) == limit else None
    return schemas.ApiKeyPage(
        data=[schemas.ApiKeyOut.model_validate(key) for key in keys],
        next_cursor=encode_time_cursor(last.created_at, last.id) if last is not None else None,
    )


@router.delete("/{key_id}", response_model=schemas.ApiKeyOut)
async def revoke_api_key(key_id: str, session: Session, actor: Admin) -> schemas.ApiKeyOut:
    key = await auth_service.revoke_key(session, key_id=key_id, actor=actor, now=clock.now())
    return schemas.ApiKeyOut.model_validate(key)
