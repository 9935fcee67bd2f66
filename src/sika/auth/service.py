"""API keys: created with a secret shown once, found by a public lookup
prefix, checked against a keyed hash.

The secret carries 256 random bits, so a fast keyed hash (HMAC-SHA256) is as
safe as a slow password hash here and costs microseconds on every request
instead of tens of milliseconds; argon2 is for low-entropy passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.auth import repository
from sika.auth.key_cache import KeyCache, VerifiedKey
from sika.auth.models import ApiKey
from sika.auth.scopes import Scope
from sika.core import errors, ids
from sika.core.context import Actor
from sika.platforms import service as platforms_service

KEY_PREFIX = "sika_"
LOOKUP_PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, to keep hot keys off one row."""

# The hash is keyed so that a leaked table alone does not let anyone test guesses offline
# against a known function; the key is fixed per deployment type, not a secret store.
_HASH_KEY = b"sika-api-key-v1"


class ApiKeyNotFound(errors.NotFound):
    """No such API key."""

    code = "api_key_not_found"


class InvalidScopes(errors.ValidationFailed):
    """Unknown scope."""

    code = "invalid_scopes"


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str
    """The full key, shown once and never again."""


def _hash(secret: str) -> str:
    return hmac.new(_HASH_KEY, secret.encode(), hashlib.sha256).hexdigest()


def _parse(secret: str) -> str | None:
    """The lookup prefix inside a presented key, or None if it cannot be ours."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    body = secret[len(KEY_PREFIX) :]
    lookup, sep, _ = body.partition("_")
    if not sep or len(lookup) != LOOKUP_PREFIX_LENGTH:
        return None
    return lookup


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None,
    actor: Actor,
    platform_id: str | None = None,
) -> CreatedKey:
    """A new key. Its platform: see ``_platform_of_new_key``."""
    unknown = set(scopes) - {s.value for s in Scope}
    if unknown or not scopes:
        raise InvalidScopes(
            f"Scopes must be a non-empty subset of {sorted(s.value for s in Scope)}; unknown: {sorted(unknown)}"
        )
    bound_to = await _platform_of_new_key(session, actor=actor, requested=platform_id, scopes=scopes)
    lookup = secrets.token_hex(LOOKUP_PREFIX_LENGTH // 2)
    secret = f"{KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=ids.new_id("key"),
        name=name,
        lookup_prefix=lookup,
        secret_hash=_hash(secret),
        scopes=sorted(set(scopes)),
        created_by=actor.id,
        expires_at=expires_at,
        platform_id=bound_to,
    )
    session.add(key)
    await session.flush()
    await audit_service.record(
        session,
        actor=actor,
        platform_id=bound_to,
        action="api_key.created",
        entity_type="api_key",
        entity_id=key.id,
        data={"name": name, "scopes": key.scopes, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return CreatedKey(key=key, secret=secret)


async def _platform_of_new_key(
    session: AsyncSession, *, actor: Actor, requested: str | None, scopes: Sequence[str]
) -> str | None:
    """A key made by a platform's own admin key is that platform's; a ``platform`` key
    always has a platform; any other key has one only when it is named."""
    if actor.platform_id is None and requested is None and Scope.platform.value not in scopes:
        return None
    return await platforms_service.platform_for_new(session, actor=actor, requested=requested)


async def authenticate(
    session: AsyncSession, *, secret: str, now: datetime, cache: KeyCache | None = None
) -> VerifiedKey:
    """The live key behind this secret, or NotAuthenticated with the reason; from
    ``cache`` when it has the key (no database round trip), else from the table."""
    lookup = _parse(secret)
    if lookup is None:
        raise errors.NotAuthenticated("The API key is malformed.")
    # Whatever is stored below was read at this generation: a revocation heard meanwhile wins.
    generation = cache.generation if cache is not None else 0
    key = cache.get(lookup) if cache is not None else None
    if key is None:
        row = await repository.get_by_lookup_prefix(session, lookup)
        key = _verified(row) if row is not None else None
        if key is not None and cache is not None:
            cache.put(lookup, key, read_at_generation=generation)
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        raise errors.NotAuthenticated("The API key is not valid.")
    if key.revoked_at is not None:
        raise errors.NotAuthenticated("The API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise errors.NotAuthenticated("The API key has expired.")
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        await repository.mark_used(session, key_id=key.id, now=now, unless_used_since=now - LAST_USED_RESOLUTION)
        key = replace(key, last_used_at=now)
        if cache is not None:
            cache.put(lookup, key, read_at_generation=generation)
    return key


def _verified(row: ApiKey) -> VerifiedKey:
    return VerifiedKey(
        id=row.id,
        secret_hash=row.secret_hash,
        scopes=tuple(row.scopes),
        platform_id=row.platform_id,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def announce_party_changed(session: AsyncSession, *, party_id: str) -> None:
    """Every API process forgets the standing of the party's tokens when this transaction commits."""
    await repository.announce(session, f"party:{party_id}")


async def get_live_key(session: AsyncSession, *, key_id: str, now: datetime) -> ApiKey | None:
    """The key with this id while it is neither revoked nor expired: a session
    opened with a key (the dashboard's) ends when the key does."""
    key = await repository.get_current(session, key_id)
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    return key


async def list_keys(
    session: AsyncSession,
    *,
    include_revoked: bool = False,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> Sequence[ApiKey]:
    """Newest first: at most ``limit`` after the key created at ``after[0]`` with id ``after[1]``."""
    return await repository.list_keys(session, include_revoked=include_revoked, after=after, limit=limit)


async def revoke_key(session: AsyncSession, *, key_id: str, actor: Actor, now: datetime) -> ApiKey:
    key = await repository.get_for_update(session, key_id)
    if key is None:
        raise ApiKeyNotFound()
    if key.revoked_at is None:
        key.revoked_at = now
        # Every API process forgets the key when this transaction commits (``key_cache``).
        await repository.announce(session, f"key:{key.lookup_prefix}:{key.id}")
        await audit_service.record(
            session,
            actor=actor,
            platform_id=key.platform_id,
            action="api_key.revoked",
            entity_type="api_key",
            entity_id=key.id,
        )
    return key


async def any_admin_key(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a live key can administer Sika (else ``sika run`` makes one)."""
    return await repository.any_live_key_with_scope(session, scope=Scope.admin.value, now=now)
