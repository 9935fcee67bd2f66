"""One request, one transaction, committed at the edge; and idempotency keys
decided inside that transaction.

``UnitOfWorkRoute`` opens the session before the handler runs and commits
after it has produced its response, so the stored idempotent answer and the
change it describes commit together or not at all."""

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
from sika.idempotency import service as idempotency_service

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

        async def unit_of_work(request: Request) -> Response:
            sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
            try:
                async with sessions() as session, session.begin():
                    request.state.session = session
                    response = await handler(request)
                    claim = getattr(request.state, "idempotency", None)
                    if claim is not None and response.status_code < 500:
                        await idempotency_service.store(
                            session,
                            claimed=claim[0],
                            response=idempotency_service.StoredResponse(
                                status=response.status_code,
                                body=bytes(response.body),
                                content_type=response.headers.get("content-type", "application/json"),
                            ),
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
