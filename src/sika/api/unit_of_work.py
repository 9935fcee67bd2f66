"""One request, one transaction, committed at the edge; and idempotency keys
decided inside that transaction.

``UnitOfWorkRoute`` opens the session before the handler runs and commits
after it has produced its response, so the stored idempotent answer and the
change it describes commit together or not at all. The stored answer leaves
out the secrets the route's response model marks ``ShownOnce``
(``sika.idempotency.shown_once``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import problems
from sika.core import clock, errors
from sika.core.config import Settings
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.idempotency import service as idempotency_service
from sika.idempotency import shown_once

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
MUTATING_METHODS = frozenset({"POST"})


class _Replay(Exception):
    def __init__(self, stored: idempotency_service.StoredResponse) -> None:
        self.stored = stored


async def claim_idempotency_key(request: Request, actor: Actor) -> None:
    """Called once the caller is known: owns the key or replays its answer."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.method not in MUTATING_METHODS or key is None:
        return
    session: AsyncSession = request.state.session
    settings: Settings = request.app.state.settings
    owner = actor.id
    fingerprint = idempotency_service.fingerprint(
        method=request.method, path=request.url.path, body=await request.body()
    )
    outcome = await idempotency_service.claim(
        session,
        owner=owner,
        key=idempotency_service.check_key(key),
        fingerprint=fingerprint,
        now=clock.now(),
        ttl=timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS),
    )
    if isinstance(outcome, idempotency_service.StoredResponse):
        raise _Replay(outcome)
    request.state.idempotency = (outcome, owner, key, fingerprint)


def _replay_response(stored: idempotency_service.StoredResponse) -> Response:
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type=stored.content_type,
        headers={REPLAYED_HEADER: "true"},
    )


def _render_refusal(request: Request, exc: Exception) -> Response | None:
    if isinstance(exc, errors.SikaError) and 400 <= exc.status < 500:
        return problems.domain_problem(request, exc)
    return None


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        secret_fields = shown_once.fields_of(self.response_model)

        async def unit_of_work(request: Request) -> Response:
            sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
            try:
                async with sessions() as session, session.begin():
                    request.state.session = session
                    response = await handler(request)
                    claim = getattr(request.state, "idempotency", None)
                    if claim is not None and response.status_code < 500:
                        await idempotency_service.store(
                            session, claimed=claim[0], response=_stored(response, secret_fields)
                        )
            except _Replay as replay:
                return _replay_response(replay.stored)
            except (errors.SikaError, RequestValidationError) as exc:
                claim = getattr(request.state, "idempotency", None)
                refusal = (
                    problems.validation_problem(request, exc)
                    if isinstance(exc, RequestValidationError)
                    else _render_refusal(request, exc)
                )
                if claim is None or refusal is None:
                    raise
                await _store_refusal(request, sessions, claim, refusal)
                return refusal
            finally:
                request.state.session = None
            return response

        return unit_of_work


async def _store_refusal(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    claim: tuple[idempotency_service.Claimed, str, str, str],
    refusal: Response,
) -> None:
    settings: Settings = request.app.state.settings
    _, owner, key, fingerprint = claim
    async with sessions() as session, session.begin():
        await idempotency_service.store_failure(
            session,
            owner=owner,
            key=key,
            fingerprint=fingerprint,
            response=idempotency_service.StoredResponse(
                status=refusal.status_code,
                body=bytes(refusal.body),
                content_type=problems.PROBLEM_CONTENT_TYPE,
            ),
            now=clock.now(),
            ttl=timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS),
        )


class PhasedRoute(UnitOfWorkRoute):
    """For a handler whose service calls a payment provider (DESIGN.md §4 rule 1):
    its transactions are the service's phases, never one around the request.

    The request's session opens a transaction in which the caller is
    authenticated and the Idempotency-Key claimed; the handler gets it as
    ``Phases.first`` (``deps.CurrentPhases``) and the service writes its first
    recovery point (say, a collection ``initiated``) into it and commits it,
    claim included, before calling the provider. Later phases run in
    transactions of their own, and the answer is stored on the claim after
    the handler returns. So, for one key:

    * a duplicate that arrives while the first request is between phases finds
      the claim committed without an answer and gets 409
      ``idempotency_key_in_flight`` (retry later for the stored answer): it
      never reaches the provider, whose call is never made twice;
    * a duplicate after the answer is stored gets it back, as with
      ``UnitOfWorkRoute``;
    * a refusal before the first commit rolls the first phase back and is
      stored as ``UnitOfWorkRoute`` stores refusals; after it, it is stored on
      the committed claim;
    * if the process dies between phases, the claim stays without an answer
      (duplicates get 409 until it expires), the recovery point is finished by
      reconciliation, and the service also records the key on what it created
      (a unique constraint per creator), so the client can find it by the key.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = APIRoute.get_route_handler(self)
        secret_fields = shown_once.fields_of(self.response_model)

        async def phased(request: Request) -> Response:
            sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
            async with sessions() as session:
                await session.begin()
                phases = Phases(first=session, sessions=sessions)
                request.state.session = session
                request.state.phases = phases
                try:
                    response = await handler(request)
                except _Replay as replay:
                    return _replay_response(replay.stored)
                except (errors.SikaError, RequestValidationError) as exc:
                    claim = getattr(request.state, "idempotency", None)
                    refusal = (
                        problems.validation_problem(request, exc)
                        if isinstance(exc, RequestValidationError)
                        else _render_refusal(request, exc)
                    )
                    if claim is None or refusal is None:
                        raise
                    if phases.first_committed:
                        await _store_answer(sessions, claim, _stored(refusal, secret_fields))
                    else:
                        await session.rollback()
                        await _store_refusal(request, sessions, claim, refusal)
                    return refusal
                finally:
                    request.state.session = None
                claim = getattr(request.state, "idempotency", None)
                if not phases.first_committed:
                    if claim is not None and response.status_code < 500:
                        await idempotency_service.store(
                            session, claimed=claim[0], response=_stored(response, secret_fields)
                        )
                    await session.commit()
                elif claim is not None and response.status_code < 500:
                    await _store_answer(sessions, claim, _stored(response, secret_fields))
            return response

        return phased


def claimed_key(request: Request) -> str | None:
    """The Idempotency-Key this request claimed, if it sent one."""
    claim = getattr(request.state, "idempotency", None)
    return claim[2] if claim is not None else None


def _stored(response: Response, secret_fields: frozenset[str]) -> idempotency_service.StoredResponse:
    """The answer as the idempotency store keeps it: without the secrets it showed once."""
    return idempotency_service.StoredResponse(
        status=response.status_code,
        body=shown_once.redact(bytes(response.body), secret_fields),
        content_type=response.headers.get("content-type", "application/json"),
    )


async def _store_answer(
    sessions: async_sessionmaker[AsyncSession],
    claim: tuple[idempotency_service.Claimed, str, str, str],
    stored: idempotency_service.StoredResponse,
) -> None:
    async with sessions() as session, session.begin():
        await idempotency_service.store(session, claimed=claim[0], response=stored)
