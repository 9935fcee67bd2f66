"""Allowlists and certifications over HTTP, under ``/v1/parties/{id}``.

Who may call (docs/transfers.md has the table): an allowlist is changed by the
platform's key or support staff, and by the party's own token when its
platform allows self-service (the service decides); a ``read`` key reads it.
A certification is given only by ``support`` or ``admin`` keys; the
platform's key, support and read keys and the party read its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from sika.api.deps import Session, authorize
from sika.api.idempotency import IdempotencyClaim, idempotency_claim
from sika.api.pagination import Page, next_cursor
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import clock
from sika.core.context import Actor
from sika.p2p import schemas
from sika.p2p.service import allowlists, certifications

router = APIRouter(prefix="/parties", tags=["p2p"], route_class=UnitOfWorkRoute)
keeper = authorize(Scope.platform, Scope.support, allow_party=True)
Keeper = Annotated[Actor, Depends(keeper)]
KeeperClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(keeper))]
certifier = authorize(Scope.support)
Certifier = Annotated[Actor, Depends(certifier)]
CertifierClaim = Annotated[IdempotencyClaim | None, Depends(idempotency_claim(certifier))]
ReaderOrParty = Annotated[Actor, Depends(authorize(Scope.platform, Scope.support, Scope.read, allow_party=True))]


@router.post("/{party_id}/allowlist", status_code=201, response_model=schemas.AllowlistEntryOut)
async def add_to_allowlist(
    party_id: str, body: schemas.AllowlistAdd, session: Session, actor: Keeper, claim: KeeperClaim
) -> schemas.AllowlistEntryOut:
    entry = await allowlists.add(
        session, party_id=party_id, recipient_party_id=body.recipient_party_id, actor=actor, now=clock.now()
    )
    return schemas.AllowlistEntryOut.model_validate(entry)


@router.get("/{party_id}/allowlist", response_model=schemas.AllowlistPage)
async def list_allowlist(party_id: str, session: Session, actor: ReaderOrParty, page: Page) -> schemas.AllowlistPage:
    """Newest first."""
    entries = await allowlists.list_entries(session, party_id=party_id, actor=actor, page=page)
    return schemas.AllowlistPage(
        data=[schemas.AllowlistEntryOut.model_validate(e) for e in entries],
        next_cursor=next_cursor(entries, page.limit),
    )


@router.delete("/{party_id}/allowlist/{recipient_party_id}", status_code=204)
async def remove_from_allowlist(party_id: str, recipient_party_id: str, session: Session, actor: Keeper) -> Response:
    await allowlists.remove(
        session, party_id=party_id, recipient_party_id=recipient_party_id, actor=actor, now=clock.now()
    )
    return Response(status_code=204)


@router.post("/{party_id}/certification", status_code=201, response_model=schemas.CertificationOut)
async def certify_party(
    party_id: str, body: schemas.CertificationCreate, session: Session, actor: Certifier, claim: CertifierClaim
) -> schemas.CertificationOut:
    certification = await certifications.certify(
        session, party_id=party_id, level=body.level, reason=body.reason, actor=actor, now=clock.now()
    )
    return schemas.CertificationOut.model_validate(certification)


@router.get("/{party_id}/certifications", response_model=schemas.CertificationPage)
async def list_certifications(
    party_id: str, session: Session, actor: ReaderOrParty, page: Page
) -> schemas.CertificationPage:
    decisions = await certifications.history(session, party_id=party_id, actor=actor, page=page)
    return schemas.CertificationPage(
        data=[schemas.CertificationOut.model_validate(d) for d in decisions],
        next_cursor=next_cursor(decisions, page.limit),
    )
