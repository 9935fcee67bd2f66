"""The Idempotency-Key over HTTP: the claim a mutating route declares, and the
answers kept under it.

Every POST that changes something declares the claim of its caller
(``idempotency_claim(guard)``, with the same scope check as its actor), so the
claim is made once the caller is authenticated and authorised, in the request's
own transaction (a ``PhasedRoute``'s first phase). With an Idempotency-Key,
that request either owns the key and runs, or gets the answer stored under it
back (``Replay``), or is refused (422 ``idempotency_key_reused`` when the key
came with another request, 409 while the first is still in flight). Without
one, the claim is None. The route classes of ``unit_of_work`` store the answer
on the claim."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import problems
from sika.api.deps import ScopeCheck, get_session, get_settings
from sika.core import clock
from sika.core.context import Actor
from sika.idempotency import service as idempotency_service
from sika.idempotency import shown_once

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class IdempotencyClaim:
    """This request owns ``key`` for its caller (``owner``, the actor's id);
    ``fingerprint`` is of its method, path and body."""

    owner: str
    key: str
    fingerprint: str
    claimed: idempotency_service.Claimed


class Replay(Exception):
    """The key's answer is stored: it is sent back and the route does not run."""

    def __init__(self, stored: idempotency_service.StoredResponse) -> None:
        self.stored = stored


ClaimCheck = Callable[..., Awaitable[IdempotencyClaim | None]]


def idempotency_claim(guard: ScopeCheck) -> ClaimCheck:
    """A dependency that claims the request's Idempotency-Key for the caller
    ``guard`` admits (the route's own scope check: FastAPI runs it once)."""

    async def claim(request: Request, actor: Actor = Depends(guard)) -> IdempotencyClaim | None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return None
        fingerprint = idempotency_service.fingerprint(
            method=request.method, path=request.url.path, body=await request.body()
        )
        outcome = await idempotency_service.claim(
            get_session(request),
            owner=actor.id,
            key=idempotency_service.check_key(key),
            fingerprint=fingerprint,
            now=clock.now(),
            ttl=timedelta(seconds=get_settings(request).IDEMPOTENCY_TTL_SECONDS),
        )
        if isinstance(outcome, idempotency_service.StoredResponse):
            raise Replay(outcome)
        made = IdempotencyClaim(owner=actor.id, key=key, fingerprint=fingerprint, claimed=outcome)
        # For the route class, which stores the answer once the route has given it.
        request.state.idempotency_claim = made
        return made

    claim.sika_idempotency_claim = True  # type: ignore[attr-defined]
    return claim


def claim_of(request: Request) -> IdempotencyClaim | None:
    """The claim this request made, if it sent a key."""
    made = getattr(request.state, "idempotency_claim", None)
    assert made is None or isinstance(made, IdempotencyClaim)
    return made


def replay_response(stored: idempotency_service.StoredResponse) -> Response:
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type=stored.content_type,
        headers={REPLAYED_HEADER: "true"},
    )


def stored(response: Response, secret_fields: frozenset[str]) -> idempotency_service.StoredResponse:
    """The answer as the idempotency store keeps it: without the secrets it showed once."""
    return idempotency_service.StoredResponse(
        status=response.status_code,
        body=shown_once.redact(bytes(response.body), secret_fields),
        content_type=response.headers.get("content-type", "application/json"),
    )


async def store_answer(
    sessions: async_sessionmaker[AsyncSession],
    claim: IdempotencyClaim,
    answer: idempotency_service.StoredResponse,
) -> None:
    """Store ``answer`` on the claim in a transaction of its own (the claim is committed)."""
    async with sessions() as session, session.begin():
        await idempotency_service.store(session, claimed=claim.claimed, response=answer)


async def store_refusal(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    claim: IdempotencyClaim,
    refusal: Response,
) -> None:
    """Keep a refusal under the key after the transaction that claimed it rolled back."""
    async with sessions() as session, session.begin():
        await idempotency_service.store_failure(
            session,
            owner=claim.owner,
            key=claim.key,
            fingerprint=claim.fingerprint,
            response=idempotency_service.StoredResponse(
                status=refusal.status_code,
                body=bytes(refusal.body),
                content_type=problems.PROBLEM_CONTENT_TYPE,
            ),
            now=clock.now(),
            ttl=timedelta(seconds=get_settings(request).IDEMPOTENCY_TTL_SECONDS),
        )
