"""Certification: a level from 0 (not certified) to 9 that support staff give a
party, with a reason; every decision is kept, the newest is the party's level.
Only ``support`` and ``admin`` keys certify: the level opens the platform's
``certified`` policy and the higher limits, which neither a platform's own
key nor a party may grant itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.auth import scopes as auth_scopes
from sika.core import errors, ids, paging
from sika.core.context import Actor
from sika.events import service as events_service
from sika.p2p import repository
from sika.p2p.models import Certification
from sika.parties import service as parties_service

CERTIFIERS = frozenset({auth_scopes.Scope.support.value})
"""Who certifies, admin included (``auth_scopes.allows``)."""


class CertificationNeedsSupport(errors.PermissionDenied):
    """Only a support or admin key certifies a party."""

    code = "certification_needs_support"


async def level_of(session: AsyncSession, party_id: str) -> int:
    newest = await repository.newest_certification(session, party_id)
    return newest.level if newest is not None else 0


async def certify(
    session: AsyncSession, *, party_id: str, level: int, reason: str, actor: Actor, now: datetime
) -> Certification:
    """Set the party's level; the decision, the level it replaces and the reason are kept."""
    if actor.is_party or not auth_scopes.allows(actor.scopes, CERTIFIERS):
        raise CertificationNeedsSupport()
    party = await parties_service.lock_party(session, party_id=party_id)
    certification = Certification(
        id=ids.new_id("cert"),
        party_id=party.id,
        platform_id=party.platform_id,
        level=level,
        previous_level=await level_of(session, party.id),
        reason=reason,
        certified_by=actor.id,
        created_at=now,
    )
    await repository.add(session, certification)
    data = {"level": level, "previous_level": certification.previous_level, "reason": reason}
    await audit_service.record(
        session,
        actor=actor,
        platform_id=party.platform_id,
        action="party.certified",
        entity_type="party",
        entity_id=party.id,
        data={**data, "certification_id": certification.id},
    )
    await events_service.emit(
        session,
        type="party.certified",
        entity_type="party",
        entity_id=party.id,
        party_id=party.id,
        platform_id=party.platform_id,
        data=data,
        now=now,
    )
    return certification


async def history(session: AsyncSession, *, party_id: str, actor: Actor, page: paging.Page) -> Sequence[Certification]:
    """The party's decisions, newest first: the first one's level is its level."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    return await repository.list_certifications(session, party_id=party.id, page=page)
