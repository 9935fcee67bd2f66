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
on the claim once the route has run (a success or a domain refusal); a request
refused before it ran (``unit_of_work.NOT_EXECUTED``, a malformed body) or
failing with a 5xx stores nothing and leaves no claim, so its corrected retry
runs, as with Stripe's keys.

A route that calls a provider (``PhasedRoute``) commits its claim with its first
phase and stores the answer after its last, so a crash in between leaves the key
claimed with no answer. Such a route declares ``recover``: how to find what the
key made and show it as the route does. A retry then gets that state, with
``Idempotent-Replayed: true``, once every phase of the first request has run, or
once its lease (``IDEMPOTENCY_LEASE_SECONDS``) has passed (its process is
presumed dead); before, 409 ``idempotency_key_in_flight``.

A route that moves money declares its claim ``required=True``: without a key it
is refused (428 ``idempotency_key_required``) before it runs, since a retry
after a lost answer could move the money twice. The claim then carries the
``sika_idempotency_required`` mark, by which tests and the OpenAPI document
find those routes. ``REQUIRE_IDEMPOTENCY_KEY=false`` makes the key optional
there too, for clients written before the rule."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers, UploadFile

from sika.api import problems
from sika.api.deps import ScopeCheck, get_session, get_settings
from sika.core import clock, db, errors
from sika.core.context import Actor
from sika.idempotency import service as idempotency_service
from sika.idempotency import shown_once

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyRequired(errors.SikaError):
    """This request moves money: send it with an Idempotency-Key header."""

    status = 428
    code = "idempotency_key_required"
    title = "Precondition required"


@dataclass(frozen=True)
class IdempotencyClaim:
    """This request owns ``key`` for its caller (``owner``, the actor's id);
    ``fingerprint`` is of its method, path and canonical body
    (``idempotency_service.fingerprint``)."""

    owner: str
    key: str
    fingerprint: str
    claimed: idempotency_service.Claimed


class Replay(Exception):
    """The key's answer is stored: it is sent back and the route does not run."""

    def __init__(self, stored: idempotency_service.StoredResponse) -> None:
        self.stored = stored


@dataclass(frozen=True)
class Recovered:
    """What an unanswered key's request made, as its route would show it now."""

    body: BaseModel
    status: int
    """The route's success status."""
    settled: bool
    """Every phase of that request has run: this is the answer it would have stored."""


Recover = Callable[[Request, Actor, str], Awaitable[Recovered | None]]
"""Find what the request with this key (for this actor) made, in the request's
session (``deps.get_session``); None if nothing."""
ClaimCheck = Callable[..., Awaitable[IdempotencyClaim | None]]


def idempotency_claim(guard: ScopeCheck, *, recover: Recover | None = None, required: bool = False) -> ClaimCheck:
    """A dependency that claims the request's Idempotency-Key for the caller
    ``guard`` admits (the route's own scope check: FastAPI runs it once); a
    route whose claim may be left unanswered by a crash gives ``recover``; a
    route that moves money is ``required`` to have a key."""

    async def claim(request: Request, actor: Actor = Depends(guard)) -> IdempotencyClaim | None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            if required and get_settings(request).REQUIRE_IDEMPOTENCY_KEY:
                raise IdempotencyKeyRequired(
                    "This request moves money: send it with an Idempotency-Key header (a unique value of yours, "
                    "such as a UUID). Should the answer be lost, a retry with the same key gets that answer back "
                    "instead of moving the money a second time."
                )
            return None
        fingerprint = idempotency_service.fingerprint(
            method=request.method, path=request.url.path, body=await _body(request)
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
        if isinstance(outcome, idempotency_service.Unanswered):
            raise Replay(await _from_state(request, actor, key, outcome, recover))
        made = IdempotencyClaim(owner=actor.id, key=key, fingerprint=fingerprint, claimed=outcome)
        # For the route class, which stores the answer once the route has given it.
        request.state.idempotency_claim = made
        return made

    claim.sika_idempotency_claim = True  # type: ignore[attr-defined]
    claim.sika_idempotency_required = required  # type: ignore[attr-defined]
    return claim


async def _body(request: Request) -> bytes:
    """The body the key is compared on: as sent, or for a multipart form (whose stream the
    framework has parsed already) its fields in order, each file by the sha256 of its bytes,
    so the same form sent again under another boundary is the same request."""
    if Headers(scope=request.scope).get("content-type", "").partition(";")[0].strip() != "multipart/form-data":
        return await request.body()
    digest = hashlib.sha256()
    for name, value in (await request.form()).multi_items():
        if isinstance(value, UploadFile):
            await value.seek(0)
            content = hashlib.sha256(await value.read()).hexdigest().encode()
            await value.seek(0)
        else:
            content = value.encode()
        for part in (name.encode(), content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return b"multipart:" + digest.hexdigest().encode()


async def _from_state(
    request: Request, actor: Actor, key: str, unanswered: idempotency_service.Unanswered, recover: Recover | None
) -> idempotency_service.StoredResponse:
    """The answer to a retry of a request that stored none: the state of what it
    made, once its phases are done or its lease has passed; else 409."""
    lease = timedelta(seconds=get_settings(request).IDEMPOTENCY_LEASE_SECONDS)
    age = clock.now() - unanswered.started_at
    found = await recover(request, actor, key) if recover is not None else None
    if found is None or not (found.settled or age >= lease):
        remaining = max(int((lease - age).total_seconds()), 1)
        raise errors.IdempotencyKeyInFlight(
            f"The request with this Idempotency-Key started {int(age.total_seconds())} s ago and has no answer "
            f"yet: it may still be waiting for a provider, or it was cut short. Retry in {remaining} s at most "
            "for the state of what it made."
        )
    shown = JSONResponse(content=jsonable_encoder(found.body), status_code=found.status)
    return idempotency_service.StoredResponse(
        status=found.status, body=bytes(shown.body), content_type="application/json"
    )


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
    async with db.transaction(sessions) as session:
        await idempotency_service.store(session, claimed=claim.claimed, response=answer)


async def store_refusal(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    claim: IdempotencyClaim,
    refusal: Response,
) -> None:
    """Keep a refusal under the key after the transaction that claimed it rolled back."""
    async with db.transaction(sessions) as session:
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
