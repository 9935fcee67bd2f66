"""Request-scoped pieces for routers: the session of the request's unit of
work, and authorization. Every route declares the scopes it needs with
``authorize(...)`` (or is listed as public in the route-walk test), and
whether a party token may call it (``allow_party=True``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from sika.api import unit_of_work
from sika.api.ratelimit import RateLimiter
from sika.auth import party_tokens
from sika.auth import scopes as auth_scopes
from sika.auth import service as auth_service
from sika.core import clock, errors
from sika.core.config import Settings
from sika.core.context import Actor
from sika.core.phases import Phases


def get_session(request: Request) -> AsyncSession:
    session = getattr(request.state, "session", None)
    if not isinstance(session, AsyncSession):
        raise RuntimeError("Route is not served by UnitOfWorkRoute")
    return session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def get_phases(request: Request) -> Phases:
    phases = getattr(request.state, "phases", None)
    if not isinstance(phases, Phases):
        raise RuntimeError("Route is not served by PhasedRoute")
    return phases


Session = Annotated[AsyncSession, Depends(get_session)]
CurrentSettings = Annotated[Settings, Depends(get_settings)]
CurrentPhases = Annotated[Phases, Depends(get_phases)]
"""The phases of a ``PhasedRoute`` request: its first one holds the caller's
authentication and Idempotency-Key claim."""

ScopeCheck = Callable[[Request], Awaitable[Actor]]


def authorize(*needed: auth_scopes.Scope, allow_party: bool = False) -> ScopeCheck:
    """A dependency that authenticates the caller and checks that it holds
    one of ``needed`` (admin holds them all). With ``allow_party`` the route
    also takes party tokens; their actor carries ``party_id`` and the service
    must then refuse any other party's resource."""
    needed_values = frozenset(scope.value for scope in needed)

    async def check(request: Request) -> Actor:
        limiter: RateLimiter = request.app.state.rate_limiter
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            await limiter.hit_address(client_address(request))
            raise errors.NotAuthenticated(
                "Send an API key or a party token as 'Authorization: Bearer <credentials>'."
            )
        if party_tokens.looks_like_token(credentials):
            actor = await _party_actor(request, token=credentials, allow_party=allow_party)
        else:
            actor = await _key_actor(request, secret=credentials, needed_values=needed_values)
        request.state.actor = actor
        await unit_of_work.claim_idempotency_key(request, actor)
        return actor

    check.sika_scopes = needed_values  # type: ignore[attr-defined]
    check.sika_allow_party = allow_party  # type: ignore[attr-defined]
    return check


async def _key_actor(request: Request, *, secret: str, needed_values: frozenset[str]) -> Actor:
    limiter: RateLimiter = request.app.state.rate_limiter
    session = get_session(request)
    try:
        key = await auth_service.authenticate(session, secret=secret, now=clock.now())
    except errors.NotAuthenticated:
        await limiter.hit_address(client_address(request))
        raise
    await limiter.hit_key(key.id)
    held = frozenset(key.scopes)
    if not auth_scopes.allows(held, needed_values):
        raise errors.PermissionDenied(
            f"This route needs one of the scopes {sorted(needed_values)}; "
            f"the key has {sorted(held)}."
        )
    return Actor(id=f"key:{key.id}", scopes=held, request_id=request.state.request_id)


async def _party_actor(request: Request, *, token: str, allow_party: bool) -> Actor:
    limiter: RateLimiter = request.app.state.rate_limiter
    try:
        claims = party_tokens.verify(get_settings(request), token=token, now=clock.now())
    except errors.NotAuthenticated:
        await limiter.hit_address(client_address(request))
        raise
    actor_id = f"party:{claims.party_id}"
    await limiter.hit_key(actor_id)
    if not allow_party:
        raise errors.PermissionDenied(
            "This route is not open to party tokens; it needs an API key."
        )
    return Actor(id=actor_id, request_id=request.state.request_id, party_id=claims.party_id)


async def public_rate_limit(request: Request) -> None:
    """Public routes are limited per client address."""
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.hit_address(client_address(request))


public_rate_limit.sika_public = True  # type: ignore[attr-defined]
