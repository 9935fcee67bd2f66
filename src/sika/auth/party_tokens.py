"""Party tokens: short-lived JWTs the platform mints so that a party can act
for itself, and only for itself.

HS256 with keys chosen by ``kid``: ``PARTY_TOKEN_ACTIVE_KID`` signs, every
key in ``PARTY_TOKEN_KEYS`` verifies, so a key is rotated by adding the new
one, making it active, and removing the old one once its last token has
expired (at most ``PARTY_TOKEN_MAX_SECONDS`` later).

A token names the API key that minted it (``minted_by``) and carries its
issue time to the millisecond (``iat``, a JSON number with a fraction, as RFC
7519 allows), so that the API can refuse it once that key is revoked or
expired, once its party is suspended, or once the party's tokens issued
before some instant are revoked (``sika.parties.service.check_token_standing``).
This module checks what the token alone can tell.

Expiry is checked against the ``now`` handed in rather than PyJWT's own
clock, so every time decision in Sika comes from ``sika.core.clock``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from sika.core import errors
from sika.core.config import Settings

ALGORITHM = "HS256"
MIN_LIFETIME_SECONDS = 60
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "minted_by"]
MAX_TOKEN_LENGTH = 4096
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ISSUED_AT_LEEWAY_SECONDS = 5
"""How far in the future a token's ``iat`` may lie: clock drift between the API's hosts."""


class TokenLifetimeTooLong(errors.ValidationFailed):
    """A party token may not live longer than PARTY_TOKEN_MAX_SECONDS."""

    code = "token_lifetime_too_long"


class InvalidPartyToken(errors.NotAuthenticated):
    """The party token is not valid."""

    code = "invalid_party_token"


@dataclass(frozen=True)
class MintedToken:
    token: str
    party_id: str
    token_id: str
    expires_at: datetime


@dataclass(frozen=True)
class PartyClaims:
    party_id: str
    token_id: str
    key_id: str
    """The ``kid`` of the signing key."""
    minted_by: str
    """The id of the API key that minted the token."""
    platform_id: str | None
    """The party's platform (``plt``); None in a token minted before platforms existed."""
    issued_at: datetime
    """To the millisecond."""
    expires_at: datetime


def looks_like_token(credentials: str) -> bool:
    """A JWT has three dot-separated parts; an API key has none."""
    return credentials.count(".") == 2


def mint(
    settings: Settings,
    *,
    party_id: str,
    platform_id: str,
    minted_by: str,
    lifetime_seconds: int | None,
    now: datetime,
) -> MintedToken:
    lifetime = settings.PARTY_TOKEN_MAX_SECONDS if lifetime_seconds is None else lifetime_seconds
    if lifetime > settings.PARTY_TOKEN_MAX_SECONDS:
        raise TokenLifetimeTooLong(
            f"A party token may live at most {settings.PARTY_TOKEN_MAX_SECONDS} seconds; asked {lifetime}."
        )
    if lifetime < MIN_LIFETIME_SECONDS:
        raise errors.ValidationFailed(f"A party token lives at least {MIN_LIFETIME_SECONDS} seconds.")
    kid = settings.PARTY_TOKEN_ACTIVE_KID
    key = settings.PARTY_TOKEN_KEYS.get(kid)
    if key is None:
        raise RuntimeError(f"PARTY_TOKEN_ACTIVE_KID {kid!r} names no key in PARTY_TOKEN_KEYS")
    # Issued at now, down to the millisecond: a revocation at an instant spares a token minted
    # a millisecond later. Expiry counts from the whole second, so the token never outlives
    # ``lifetime`` and its ``exp`` stays an integer, as every JWT library expects.
    issued_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    expires_at = now.replace(microsecond=0) + timedelta(seconds=lifetime)
    token_id = secrets.token_urlsafe(16)
    token = jwt.encode(
        {
            "iss": settings.PARTY_TOKEN_ISSUER,
            "aud": settings.PARTY_TOKEN_AUDIENCE,
            "sub": party_id,
            "iat": _milliseconds(issued_at) / 1000,
            "exp": int(expires_at.timestamp()),
            "jti": token_id,
            "minted_by": minted_by,
            "plt": platform_id,
        },
        key.get_secret_value(),
        algorithm=ALGORITHM,
        headers={"kid": kid},
    )
    return MintedToken(token=token, party_id=party_id, token_id=token_id, expires_at=expires_at)


def verify(settings: Settings, *, token: str, now: datetime) -> PartyClaims:
    """The claims of a valid, live token, or InvalidPartyToken saying why not."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidPartyToken("The party token is malformed.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidPartyToken("The party token is malformed.") from None
    kid = header.get("kid")
    key = settings.PARTY_TOKEN_KEYS.get(kid) if isinstance(kid, str) else None
    if key is None or not isinstance(kid, str):
        raise InvalidPartyToken("The party token was signed with an unknown key.")
    try:
        claims = jwt.decode(
            token,
            key.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.PARTY_TOKEN_AUDIENCE,
            issuer=settings.PARTY_TOKEN_ISSUER,
            options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise InvalidPartyToken() from None
    expiry, issued, subject, token_id, minted_by = (
        claims["exp"],
        claims["iat"],
        claims["sub"],
        claims["jti"],
        claims["minted_by"],
    )
    well_formed = (
        isinstance(expiry, int)
        and isinstance(issued, int | float)
        and not isinstance(expiry, bool)
        and not isinstance(issued, bool)
        and all(isinstance(value, str) and value for value in (subject, token_id, minted_by))
    )
    platform_id = claims.get("plt")
    if not well_formed or not (platform_id is None or (isinstance(platform_id, str) and platform_id)):
        raise InvalidPartyToken()
    try:
        expires_at = EPOCH + timedelta(seconds=expiry)
        issued_at = EPOCH + timedelta(milliseconds=round(issued * 1000))
    except (OverflowError, ValueError):
        raise InvalidPartyToken() from None
    if expires_at <= now:
        raise InvalidPartyToken("The party token has expired.")
    if issued_at > now + timedelta(seconds=ISSUED_AT_LEEWAY_SECONDS):
        raise InvalidPartyToken("The party token claims to be issued in the future.")
    if expires_at - issued_at > timedelta(seconds=settings.PARTY_TOKEN_MAX_SECONDS):
        raise InvalidPartyToken(f"The party token lives longer than {settings.PARTY_TOKEN_MAX_SECONDS} seconds.")
    return PartyClaims(
        party_id=subject,
        token_id=token_id,
        key_id=kid,
        minted_by=minted_by,
        platform_id=platform_id,
        issued_at=issued_at,
        expires_at=expires_at,
    )


def _milliseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
