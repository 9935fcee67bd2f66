"""Parties: the people and businesses whose money Sika holds, and the rule
that a party acting with its own token touches only its own resources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.auth import party_tokens
from sika.auth import service as auth_service
from sika.auth.key_cache import KeyCache
from sika.core import errors, ids, paging
from sika.core.config import Settings
from sika.core.context import Actor
from sika.parties import repository, schemas
from sika.parties.models import Party
from sika.platforms import service as platforms_service


class PartyNotFound(errors.NotFound):
    """No such party."""

    code = "party_not_found"


class NotOwnedByParty(errors.PermissionDenied):
    """A party token may only touch its own party's resources."""

    code = "not_owned_by_party"


class PartySuspended(errors.Conflict):
    """The party is suspended: its wallets cannot be debited."""

    code = "party_suspended"


class SuspendedPartyGetsNoToken(errors.Conflict):
    """The party is suspended: no party token is minted for it."""

    code = "party_suspended_no_token"


def check_owner(actor: Actor, party_id: str) -> None:
    """Refuse a party actor anything that belongs to another party; API keys
    pass (their scopes were checked at the edge)."""
    if actor.is_party and actor.party_id != party_id:
        raise NotOwnedByParty()


async def create_party(session: AsyncSession, *, body: schemas.PartyCreate, actor: Actor, now: datetime) -> Party:
    platform_id = await platforms_service.platform_for_new(session, actor=actor, requested=body.platform_id)
    party = Party(
        id=ids.new_id("pty"),
        platform_id=platform_id,
        display_name=body.display_name,
        type=body.type.value,
        email=body.email,
        phone=body.phone,
        country=body.country,
        status=schemas.PartyStatus.active.value,
        created_at=now,
        updated_at=now,
    )
    session.add(party)
    await session.flush()
    await audit_service.record(
        session,
        actor=actor,
        platform_id=party.platform_id,
        action="party.created",
        entity_type="party",
        entity_id=party.id,
        data={"type": party.type, "country": party.country},
    )
    return party


async def get_party(session: AsyncSession, *, party_id: str, actor: Actor) -> Party:
    check_owner(actor, party_id)
    party = await repository.get(session, party_id)
    if party is None:
        raise PartyNotFound()
    return party


async def named_party(session: AsyncSession, *, party_id: str) -> Party:
    """Another party the caller names (a recipient), on the caller's platform, whoever
    the caller: for naming it, never for acting on it (``get_party`` is for that)."""
    party = await repository.get(session, party_id)
    if party is None:
        raise PartyNotFound()
    return party


async def list_parties(
    session: AsyncSession,
    *,
    status: schemas.PartyStatus | None,
    party_type: schemas.PartyType | None,
    page: paging.Page,
) -> Sequence[Party]:
    """Newest first."""
    return await repository.list_parties(
        session,
        status=status.value if status else None,
        party_type=party_type.value if party_type else None,
        page=page,
    )


async def update_party(
    session: AsyncSession, *, party_id: str, body: schemas.PartyUpdate, actor: Actor, now: datetime
) -> Party:
    check_owner(actor, party_id)
    party = await repository.get_for_update(session, party_id)
    if party is None:
        raise PartyNotFound()
    changed: list[str] = []
    for name in sorted(body.model_fields_set):
        value = getattr(body, name)
        stored = value.value if isinstance(value, StrEnum) else value
        if getattr(party, name) != stored:
            setattr(party, name, stored)
            changed.append(name)
    if not changed:
        return party
    party.updated_at = now
    await session.flush()
    if "status" in changed:
        # A suspension refuses the party's tokens in every API process once this commits.
        await auth_service.announce_party_changed(session, party_id=party.id)
    # Contact details stay out of the audit log; which fields changed is enough to trace it.
    data: dict[str, object] = {"fields": changed}
    if "status" in changed:
        data["status"] = party.status
    await audit_service.record(
        session,
        actor=actor,
        platform_id=party.platform_id,
        action="party.updated",
        entity_type="party",
        entity_id=party.id,
        data=data,
    )
    return party


async def mint_token(
    session: AsyncSession,
    *,
    party_id: str,
    lifetime_seconds: int | None,
    settings: Settings,
    actor: Actor,
    now: datetime,
) -> party_tokens.MintedToken:
    """A token for an active party, naming the API key that mints it: it dies
    with that key (``check_token_standing``)."""
    check_owner(actor, party_id)
    minted_by = actor.api_key_id
    if minted_by is None:
        raise errors.PermissionDenied("Only an API key mints party tokens.")
    party = await repository.get(session, party_id)
    if party is None:
        raise PartyNotFound()
    if party.status == schemas.PartyStatus.suspended.value:
        raise SuspendedPartyGetsNoToken()
    minted = party_tokens.mint(
        settings,
        party_id=party.id,
        platform_id=party.platform_id,
        minted_by=minted_by,
        lifetime_seconds=lifetime_seconds,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        platform_id=party.platform_id,
        action="party_token.minted",
        entity_type="party",
        entity_id=party.id,
        data={
            "token_id": minted.token_id,
            "key_id": settings.PARTY_TOKEN_ACTIVE_KID,
            "expires_at": minted.expires_at.isoformat(),
        },
    )
    return minted


async def revoke_tokens(session: AsyncSession, *, party_id: str, actor: Actor, now: datetime) -> Party:
    """Refuse from now on every token of the party issued before ``now``; tokens
    minted afterwards work. Never moves the instant back (a second revoke from a
    host whose clock lags keeps the later one)."""
    check_owner(actor, party_id)
    party = await repository.get_for_update(session, party_id)
    if party is None:
        raise PartyNotFound()
    revoked_before = max(now, party.tokens_revoked_before or now)
    party.tokens_revoked_before = revoked_before
    await session.flush()
    await auth_service.announce_party_changed(session, party_id=party.id)
    await audit_service.record(
        session,
        actor=actor,
        platform_id=party.platform_id,
        action="party_tokens.revoked",
        entity_type="party",
        entity_id=party.id,
        data={"revoked_before": revoked_before.isoformat()},
    )
    return party


async def check_token_standing(
    session: AsyncSession, *, claims: party_tokens.PartyClaims, now: datetime, cache: KeyCache | None = None
) -> str:
    """The platform of a well-signed token's party; refuse the token if its party is
    gone or suspended, or not of the platform the token names, if the party's tokens
    were revoked after it was issued, or if its minting key is revoked or expired:
    from ``cache`` when it has the standing, else one indexed lookup of the party
    and the key together."""
    of = (claims.party_id, claims.minted_by)
    standing = cache.get_standing(of) if cache is not None else None
    if standing is None:
        generation = cache.generation if cache is not None else 0
        standing = await repository.token_standing(session, party_id=claims.party_id, key_id=claims.minted_by)
        if standing is not None and cache is not None:
            cache.put_standing(of, standing, read_at_generation=generation)
    if standing is None:
        raise party_tokens.InvalidPartyToken("The party token names no party.")
    if standing.party_status == schemas.PartyStatus.suspended.value:
        raise party_tokens.InvalidPartyToken("The party is suspended: its tokens are refused.")
    if standing.tokens_revoked_before is not None and claims.issued_at < standing.tokens_revoked_before:
        raise party_tokens.InvalidPartyToken("The party token has been revoked.")
    if not standing.key_found or standing.key_revoked_at is not None:
        raise party_tokens.InvalidPartyToken("The API key that minted this party token has been revoked.")
    if standing.key_expires_at is not None and standing.key_expires_at <= now:
        raise party_tokens.InvalidPartyToken("The API key that minted this party token has expired.")
    if claims.platform_id is not None and claims.platform_id != standing.platform_id:
        raise party_tokens.InvalidPartyToken("The party token names another platform.")
    return standing.platform_id


async def lock_party(session: AsyncSession, *, party_id: str) -> Party:
    """The party, locked until the transaction ends: the point where requests
    that must not both act on it (two openings of one wallet) take turns."""
    party = await repository.get_for_update(session, party_id)
    if party is None:
        raise PartyNotFound()
    return party


async def lock_debitable(session: AsyncSession, *, party_id: str) -> Party:
    """The party, share-locked so that it cannot be suspended before this
    transaction ends; PartySuspended if it already is."""
    party = await repository.get_for_share(session, party_id)
    if party is None:
        raise PartyNotFound()
    if party.status == schemas.PartyStatus.suspended.value:
        raise PartySuspended()
    return party
