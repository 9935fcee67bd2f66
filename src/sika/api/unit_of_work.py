"""One request, one transaction, committed at the edge; and the answer to an
idempotency claim (``sika.api.idempotency``) stored inside that transaction.

``UnitOfWorkRoute`` opens the session before the handler runs and commits
after it has produced its response, so the stored idempotent answer and the
change it describes commit together or not at all. The stored answer leaves
out the secrets the route's response model marks ``ShownOnce``
(``sika.idempotency.shown_once``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import idempotency, problems
from sika.core import errors
from sika.core.phases import Phases
from sika.idempotency import service as idempotency_service
from sika.idempotency import shown_once


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
                    claim = idempotency.claim_of(request)
                    if claim is not None and response.status_code < 500:
                        await idempotency_service.store(
                            session, claimed=claim.claimed, response=idempotency.stored(response, secret_fields)
                        )
            except idempotency.Replay as replay:
                return idempotency.replay_response(replay.stored)
            except (errors.SikaError, RequestValidationError) as exc:
                claim = idempotency.claim_of(request)
                refusal = (
                    problems.validation_problem(request, exc)
                    if isinstance(exc, RequestValidationError)
                    else _render_refusal(request, exc)
                )
                if claim is None or refusal is None:
                    raise
                await idempotency.store_refusal(request, sessions, claim, refusal)
                return refusal
            finally:
                request.state.session = None
            return response

        return unit_of_work


class PhasedRoute(UnitOfWorkRoute):
    """For a handler whose service calls a payment provider (the money rules in docs/architecture.md):
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
      ``idempotency_key_in_flight`` (retry later): it never reaches the
      provider, whose call is never made twice;
    * a duplicate after the answer is stored gets it back, as with
      ``UnitOfWorkRoute``;
    * a refusal before the first commit rolls the first phase back and is
      stored as ``UnitOfWorkRoute`` stores refusals; after it, it is stored on
      the committed claim;
    * if the process dies between phases, the claim stays without an answer,
      the recovery point is finished by reconciliation, and the service also
      records the key on what it created (a unique constraint per creator), so
      the client can find it by the key. A duplicate then gets the state of
      what the key made (``Idempotent-Replayed: true``, the route's ``recover``
      in ``sika.api.idempotency``) once its phases are done, or once the claim's
      lease (``IDEMPOTENCY_LEASE_SECONDS``) has passed; 409 before.
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
                except idempotency.Replay as replay:
                    return idempotency.replay_response(replay.stored)
                except (errors.SikaError, RequestValidationError) as exc:
                    claim = idempotency.claim_of(request)
                    refusal = (
                        problems.validation_problem(request, exc)
                        if isinstance(exc, RequestValidationError)
                        else _render_refusal(request, exc)
                    )
                    if claim is None or refusal is None:
                        raise
                    if phases.first_committed:
                        await idempotency.store_answer(sessions, claim, idempotency.stored(refusal, secret_fields))
                    else:
                        await session.rollback()
                        await idempotency.store_refusal(request, sessions, claim, refusal)
                    return refusal
                finally:
                    request.state.session = None
                claim = idempotency.claim_of(request)
                if not phases.first_committed:
                    if claim is not None and response.status_code < 500:
                        await idempotency_service.store(
                            session, claimed=claim.claimed, response=idempotency.stored(response, secret_fields)
                        )
                    await session.commit()
                elif claim is not None and response.status_code < 500:
                    await idempotency.store_answer(sessions, claim, idempotency.stored(response, secret_fields))
            return response

        return phased
