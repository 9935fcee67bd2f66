"""Parties and the party tokens the platform mints for them.

A party token may read its own party; creating, listing, changing parties,
minting tokens and revoking them take a platform key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sika.api.deps import CurrentSettings, Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.parties import schemas
from sika.parties import service as parties_service

router = APIRouter(prefix="/parties", tags=["parties"], route_class=UnitOfWorkRoute)
platform = authorize(Scope.platform)
Platform = Annotated[Actor, Depends(platform)]
PlatformClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(platform))]
Reader = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]


@router.post("", status_code=201, response_model=schemas.PartyOut)
async def create_party(
    body: schemas.PartyCreate, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PartyOut:
    party = await parties_service.create_party(session, body=body, actor=actor, now=clock.now())
    return schemas.PartyOut.model_validate(party)


@router.get("", response_model=schemas.PartyPage)
async def list_parties(
    session: Session,
    actor: Reader,
    page: Page,
    status: schemas.PartyStatus | None = None,
    party_type: Annotated[schemas.PartyType | None, Query(alias="type")] = None,
) -> schemas.PartyPage:
    parties = await parties_service.list_parties(session, status=status, party_type=party_type, page=page)
    return schemas.PartyPage(
        data=[schemas.PartyOut.model_validate(p) for p in parties], next_cursor=next_cursor(parties, page.limit)
    )


@router.get("/{party_id}", response_model=schemas.PartyOut)
async def get_party(party_id: str, session: Session, actor: ReaderOrParty) -> schemas.PartyOut:
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    return schemas.PartyOut.model_validate(party)


@router.patch("/{party_id}", response_model=schemas.PartyOut)
async def update_party(party_id: str, body: schemas.PartyUpdate, session: Session, actor: Platform) -> schemas.PartyOut:
    party = await parties_service.update_party(session, party_id=party_id, body=body, actor=actor, now=clock.now())
    return schemas.PartyOut.model_validate(party)


@router.post("/{party_id}/tokens", status_code=201, response_model=schemas.PartyTokenOut)
async def mint_party_token(
    party_id: str,
    body: schemas.PartyTokenCreate,
    session: Session,
    settings: CurrentSettings,
    actor: Platform,
    claim: PlatformClaim,
) -> schemas.PartyTokenOut:
    minted = await parties_service.mint_token(
        session,
        party_id=party_id,
        lifetime_seconds=body.lifetime_seconds,
        settings=settings,
        actor=actor,
        now=clock.now(),
    )
    return schemas.PartyTokenOut(
        token=minted.token,
        party_id=minted.party_id,
        token_id=minted.token_id,
        expires_at=minted.expires_at,
    )


@router.post("/{party_id}/tokens/revoke", response_model=schemas.PartyOut)
async def revoke_party_tokens(
    party_id: str, session: Session, actor: Platform, claim: PlatformClaim
) -> schemas.PartyOut:
    """Refuse from now on every token of the party issued before this moment
    (``tokens_revoked_before``); tokens minted afterwards work."""
    party = await parties_service.revoke_tokens(session, party_id=party_id, actor=actor, now=clock.now())
    return schemas.PartyOut.model_validate(party)
