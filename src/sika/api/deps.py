"""Request-scoped pieces for routers: the session of the request's unit of
work, and authorization. Every route declares the scopes it needs with
``authorize(...)`` (or is listed as public in the route-walk test and
declares its own rate limit), and whether a party token may call it
(``allow_party=True``). Authorizing claims nothing: a route that changes
something also declares its Idempotency-Key claim (``sika.api.idempotency``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sika.api.ratelimit import RateLimiter
from sika.auth import party_tokens
from sika.auth import scopes as auth_scopes
from sika.auth import service as auth_service
from sika.core import client_address as addresses
from sika.core import clock, errors, tenancy
from sika.core.config import Settings
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.parties import service as parties_service

T = TypeVar("T")


def get_session(request: Request) -> AsyncSession:
    session = getattr(request.state, "session", None)
    if not isinstance(session, AsyncSession):
        raise RuntimeError("Route is not served by UnitOfWorkRoute")
    return session


def get_engine(request: Request) -> AsyncEngine:
    """The app's engine, for what runs outside the request's unit of work."""
    engine: AsyncEngine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """The client's address: the peer, or what a trusted proxy says it saw (``TRUSTED_PROXIES``)."""
    return addresses.resolve(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        get_settings(request).TRUSTED_PROXIES,
    )


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def _failed_authentication(request: Request) -> None:
    """Count a failed authentication against the client's address (429 past the limit)."""
    await _limiter(request).hit_failed_authentication(client_address(request))


def get_phases(request: Request) -> Phases:
    phases = getattr(request.state, "phases", None)
    if not isinstance(phases, Phases):
        raise RuntimeError("Route is not served by PhasedRoute")
    return phases


def on_the_loop(read: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    """``read`` as a dependency that runs on the event loop: FastAPI runs a plain
    ``def`` dependency in a worker thread, a thread hop on every request for what
    only reads the request (tests/foundation/test_no_thread_hops.py)."""

    async def dependency(request: Request) -> T:
        return read(request)

    dependency.__name__ = dependency.__qualname__ = read.__name__
    return dependency


Session = Annotated[AsyncSession, Depends(on_the_loop(get_session))]
Engine = Annotated[AsyncEngine, Depends(on_the_loop(get_engine))]
CurrentSettings = Annotated[Settings, Depends(on_the_loop(get_settings))]
CurrentPhases = Annotated[Phases, Depends(on_the_loop(get_phases))]
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
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            await _failed_authentication(request)
            raise errors.NotAuthenticated("Send an API key or a party token as 'Authorization: Bearer <credentials>'.")
        if party_tokens.looks_like_token(credentials):
            actor = await _party_actor(request, token=credentials, allow_party=allow_party)
        else:
            actor = await _key_actor(request, secret=credentials, needed_values=needed_values)
        # From here on, the request's session sees only the caller's platform (if bound to one).
        tenancy.bind(get_session(request), actor.platform_id)
        return actor

    check.sika_scopes = needed_values  # type: ignore[attr-defined]
    check.sika_allow_party = allow_party  # type: ignore[attr-defined]
    return check


def _listed(scopes: frozenset[str]) -> str:
    """The scopes a key holds, in the order of ``Scope``: "platform, read"."""
    names = [scope.value for scope in auth_scopes.Scope if scope.value in scopes]
    return ", ".join(names)


def _in_words(needed: frozenset[str]) -> str:
    """The scopes a route takes, admin always among them, as the caller reads
    them: "a platform, support or admin"."""
    names = [
        scope.value for scope in auth_scopes.Scope if scope.value in needed and scope is not auth_scopes.Scope.admin
    ]
    names.append(auth_scopes.Scope.admin.value)
    words = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


async def _key_actor(request: Request, *, secret: str, needed_values: frozenset[str]) -> Actor:
    session = get_session(request)
    try:
        key = await auth_service.authenticate(
            session, secret=secret, now=clock.now(), cache=request.app.state.key_cache
        )
    except errors.NotAuthenticated:
        await _failed_authentication(request)
        raise
    await _limiter(request).hit_key(key.id)
    held = frozenset(key.scopes)
    if not auth_scopes.allows(held, needed_values):
        raise errors.PermissionDenied(
            f"This route needs {_in_words(needed_values)} key; this key has: {_listed(held) or 'no scopes'}."
        )
    return Actor(id=f"key:{key.id}", scopes=held, request_id=request.state.request_id, platform_id=key.platform_id)


async def _party_actor(request: Request, *, token: str, allow_party: bool) -> Actor:
    now = clock.now()
    try:
        claims = party_tokens.verify(get_settings(request), token=token, now=now)
        # Signed is not enough: its key, its party and the party's revocations have a say.
        platform_id = await parties_service.check_token_standing(
            get_session(request), claims=claims, now=now, cache=request.app.state.key_cache
        )
    except errors.NotAuthenticated:
        await _failed_authentication(request)
        raise
    actor_id = f"party:{claims.party_id}"
    await _limiter(request).hit_key(actor_id)
    if not allow_party:
        raise errors.PermissionDenied("This route is not open to party tokens; it needs an API key.")
    return Actor(id=actor_id, request_id=request.state.request_id, party_id=claims.party_id, platform_id=platform_id)


async def system_rate_limit(request: Request) -> None:
    """``/health``, ``/ready`` and ``/metrics`` are limited per client address, in a
    bucket of their own: failed logins from a shared address never silence them."""
    await _limiter(request).hit_system(client_address(request))


system_rate_limit.sika_public = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WebhookLimits:
    """The limits of a provider webhook, applied once its signature is known to hold or fail."""

    limiter: RateLimiter
    address: str

    async def admit(self, provider: str) -> None:
        """A correctly signed webhook: counted against its provider's own allowance."""
        await self.limiter.hit_webhook(provider)

    async def refused(self) -> None:
        """A webhook whose signature failed: a failed authentication of its address."""
        await self.limiter.hit_failed_authentication(self.address)


async def webhook_limits(request: Request) -> WebhookLimits:
    return WebhookLimits(limiter=_limiter(request), address=client_address(request))


webhook_limits.sika_public = True  # type: ignore[attr-defined]
