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
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import idempotency, problems
from sika.api.request_slots import RequestSlots
from sika.core import db, errors
from sika.core.phases import Phases
from sika.idempotency import service as idempotency_service
from sika.idempotency import shown_once

NOT_EXECUTED: tuple[type[errors.SikaError], ...] = (
    errors.ValidationFailed,
    errors.NotAuthenticated,
    errors.PermissionDenied,
    errors.RateLimited,
    errors.PayloadTooLarge,
)
"""Refusals of a request the route did not carry out (its parameters, its
caller, its rate): as with Stripe, nothing is stored under the key, so the
corrected retry runs."""


def _refusal_to_keep(request: Request, exc: Exception) -> Response | None:
    """The problem a retry with the same key must get back: a domain refusal (4xx)
    of a request the route carried out; None if nothing is to be kept."""
    if isinstance(exc, errors.SikaError) and 400 <= exc.status < 500 and not isinstance(exc, NOT_EXECUTED):
        return problems.domain_problem(request, exc)
    return None


async def _keep_or_release(
    session: AsyncSession, claim: idempotency.IdempotencyClaim | None, response: Response, secret_fields: frozenset[str]
) -> None:
    """Store the answer on the claim in the request's transaction; a 5xx answer
    releases the claim instead, so the retry runs."""
    if claim is None:
        return
    if response.status_code >= 500:
        await idempotency_service.release(session, claimed=claim.claimed)
    else:
        await idempotency_service.store(
            session, claimed=claim.claimed, response=idempotency.stored(response, secret_fields)
        )


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        secret_fields = shown_once.fields_of(self.response_model)

        async def in_a_slot(request: Request) -> Response:
            slots: RequestSlots = request.app.state.request_slots
            return await slots.run(request, unit_of_work)

        async def unit_of_work(request: Request) -> Response:
            sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
            try:
                async with db.transaction(sessions) as session:
                    request.state.session = session
                    response = await handler(request)
                    await _keep_or_release(session, idempotency.claim_of(request), response, secret_fields)
            except idempotency.Replay as replay:
                return idempotency.replay_response(replay.stored)
            except errors.SikaError as exc:
                # The transaction rolled back, claim included: a refusal to keep is stored anew.
                if isinstance(exc, errors.RefusalWithRecord):
                    async with db.transaction(sessions) as session:
                        await exc.record(session)
                claim = idempotency.claim_of(request)
                refusal = _refusal_to_keep(request, exc)
                if claim is None or refusal is None:
                    raise
                await idempotency.store_refusal(request, sessions, claim, refusal)
                return refusal
            finally:
                request.state.session = None
            return response

        return in_a_slot


async def _phased_refusal(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    phases: Phases,
    exc: errors.SikaError,
    secret_fields: frozenset[str],
) -> Response | None:
    """The refusal a phased route answers with, stored under its key when the
    route has run; None to let ``exc`` go on (nothing stored)."""
    claim = idempotency.claim_of(request)
    if phases.first_committed:
        # Its claim is committed and it may have called its provider: a 4xx is its
        # answer, whatever the kind; a 5xx leaves the claim to ``recover``.
        if claim is None or not 400 <= exc.status < 500:
            return None
        refusal = problems.domain_problem(request, exc)
        await idempotency.store_answer(sessions, claim, idempotency.stored(refusal, secret_fields))
        return refusal
    await phases.first.rollback()
    kept = _refusal_to_keep(request, exc)
    if claim is None or kept is None:
        return None
    await idempotency.store_refusal(request, sessions, claim, kept)
    return kept


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
    * a refusal before the first commit rolls the first phase back, claim
      included, and is kept as ``UnitOfWorkRoute`` keeps refusals (a domain
      refusal stored, a ``NOT_EXECUTED`` one or a 5xx not); after it, any 4xx
      is stored on the committed claim;
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
                except errors.SikaError as exc:
                    refusal = await _phased_refusal(request, sessions, phases, exc, secret_fields)
                    if refusal is None:
                        raise
                    return refusal
                finally:
                    request.state.session = None
                claim = idempotency.claim_of(request)
                if not phases.first_committed:
                    await _keep_or_release(session, claim, response, secret_fields)
                    await session.commit()
                elif claim is not None and response.status_code < 500:
                    await idempotency.store_answer(sessions, claim, idempotency.stored(response, secret_fields))
            return response

        return phased
