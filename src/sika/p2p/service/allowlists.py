"""Allowlists: the recipients a party may send to when its platform's policy is
``allowlist``. The platform's key (or support staff) keeps them; the party's
own token only if the platform allows self-service
(``p2p_allowlist_self_service``). Each change is audited and announced
(``allowlist.changed``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import errors, paging
from sika.core.context import Actor
from sika.events import service as events_service
from sika.p2p import repository
from sika.p2p.models import AllowlistEntry
from sika.parties import service as parties_service
from sika.parties.models import Party
from sika.platforms import service as platforms_service


class AllowlistNotSelfService(errors.PermissionDenied):
    """The platform does not let a party change its own allowlist: its platform's key does."""

    code = "allowlist_not_self_service"


class AllowlistEntryNotFound(errors.NotFound):
    """This recipient is not on the party's allowlist."""

    code = "allowlist_entry_not_found"


class AllowlistSelf(errors.ValidationFailed):
    """A party does not put itself on its own allowlist."""

    code = "allowlist_self"


async def _changeable(session: AsyncSession, *, party_id: str, actor: Actor) -> Party:
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    if actor.is_party:
        platform = await platforms_service.get_platform(session, platform_id=party.platform_id)
        if not platforms_service.settings_of(platform).p2p_allowlist_self_service:
            raise AllowlistNotSelfService()
    return party


async def add(
    session: AsyncSession, *, party_id: str, recipient_party_id: str, actor: Actor, now: datetime
) -> AllowlistEntry:
    """Put the recipient on the party's allowlist; already there, nothing changes."""
    party = await _changeable(session, party_id=party_id, actor=actor)
    recipient = await parties_service.named_party(session, party_id=recipient_party_id)
    if recipient.id == party.id:
        raise AllowlistSelf()
    existing = await repository.allowlist_entry(session, party_id=party.id, recipient_party_id=recipient.id)
    if existing is not None:
        return existing
    entry = AllowlistEntry(
        party_id=party.id,
        recipient_party_id=recipient.id,
        platform_id=party.platform_id,
        added_by=actor.id,
        created_at=now,
    )
    await repository.add(session, entry)
    await _announce(session, party, recipient.id, change="added", actor=actor, now=now)
    return entry


async def remove(session: AsyncSession, *, party_id: str, recipient_party_id: str, actor: Actor, now: datetime) -> None:
    party = await _changeable(session, party_id=party_id, actor=actor)
    entry = await repository.allowlist_entry(session, party_id=party.id, recipient_party_id=recipient_party_id)
    if entry is None:
        raise AllowlistEntryNotFound()
    await repository.remove(session, entry)
    await _announce(session, party, recipient_party_id, change="removed", actor=actor, now=now)


async def list_entries(
    session: AsyncSession, *, party_id: str, actor: Actor, page: paging.Page
) -> Sequence[AllowlistEntry]:
    """Newest first."""
    party = await parties_service.get_party(session, party_id=party_id, actor=actor)
    return await repository.list_allowlist(session, party_id=party.id, page=page)


async def _announce(
    session: AsyncSession, party: Party, recipient_party_id: str, *, change: str, actor: Actor, now: datetime
) -> None:
    data = {"change": change, "recipient_party_id": recipient_party_id}
    await audit_service.record(
        session,
        actor=actor,
        platform_id=party.platform_id,
        action=f"allowlist.{change}",
        entity_type="party",
        entity_id=party.id,
        data=data,
    )
    await events_service.emit(
        session,
        type="allowlist.changed",
        entity_type="party",
        entity_id=party.id,
        party_id=party.id,
        platform_id=party.platform_id,
        data=data,
        now=now,
    )
