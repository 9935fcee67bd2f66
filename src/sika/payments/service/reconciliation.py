"""Reconciliation: finishing what a crash or a lost answer left open.

Each run asks the providers about the collections and payouts still open
after a while (and not asked since) and applies what they say as news, like
a webhook. Each item is looked up with no transaction open and updated in
its own, so one slow or failing provider holds nothing. Also what an
operator sees of the flows: the ones stuck open, and how many were created
per day.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.audit import service as audit_service
from sika.core import db, errors
from sika.core.context import Actor
from sika.payments import repository
from sika.payments.models import Collection, Payout
from sika.payments.service import calls, flow
from sika.payments.service import collections as collection_flow
from sika.payments.service import payouts as payout_flow
from sika.payments.service.flow import Applied, Clock, Source
from sika.payments.states import (
    COLLECTION_STATES,
    PAYOUT_STATES,
    CollectionStatus,
    PayoutStatus,
    ReportedCollectionStatus,
    ReportedPayoutStatus,
)
from sika.providers import base as provider_base
from sika.providers import calls as provider_calls
from sika.providers import errors as provider_errors
from sika.providers import failover

log = structlog.get_logger(__name__)

RECONCILE_BATCH_SIZE = 100
"""Collections (and payouts) checked with their provider per reconciliation run."""


@dataclass(frozen=True)
class ReconcileReport:
    checked: int
    changed: int
    unreachable: int
    """Left for the next run: the provider could not be asked."""
    given_up: int = 0
    """Not moved for the give-up age: alerted once, asked no more until re-queued."""


class NotOpen(errors.Conflict):
    """Only an open collection or payout can be re-queued for reconciliation."""

    code = "reconcile_not_open"


@dataclass(frozen=True)
class Stuck:
    """Collections and payouts still open after a time, oldest first, and how many there are in all."""

    collections: Sequence[Collection]
    collections_total: int
    payouts: Sequence[Payout]
    payouts_total: int


async def stuck(session: AsyncSession, *, created_before: datetime, limit: int) -> Stuck:
    """What an operator sees as stuck: not final, and created before ``created_before``."""
    return Stuck(
        collections=await repository.list_open_created_before(
            session, Collection, created_before=created_before, limit=limit
        ),
        collections_total=await repository.count_open_created_before(
            session, Collection, created_before=created_before
        ),
        payouts=await repository.list_open_created_before(session, Payout, created_before=created_before, limit=limit),
        payouts_total=await repository.count_open_created_before(session, Payout, created_before=created_before),
    )


@dataclass(frozen=True)
class InFlight:
    """Money between Sika and the providers: per platform and currency, the collections
    and the payouts not final yet (how many, and their amount)."""

    collections: list[tuple[str, str, int, int]]
    payouts: list[tuple[str, str, int, int]]


async def in_flight(session: AsyncSession) -> InFlight:
    return InFlight(
        collections=await repository.open_totals(session, Collection),
        payouts=await repository.open_totals(session, Payout),
    )


async def list_open(
    session: AsyncSession, *, currency: str, payouts: bool, limit: int
) -> Sequence[Collection] | Sequence[Payout]:
    """The collections (or payouts) not final yet in ``currency``, oldest first: what an in-flight figure counts."""
    if payouts:
        return await repository.list_open(session, Payout, currency=currency, limit=limit)
    return await repository.list_open(session, Collection, currency=currency, limit=limit)


async def amount_per_day(
    session: AsyncSession, *, since: datetime, currency: str
) -> tuple[dict[date, int], dict[date, int]]:
    """The amount of the collections, then of the payouts, in ``currency`` created on each UTC day from ``since`` on."""
    return (
        await repository.amount_per_day(session, Collection, since=since, currency=currency),
        await repository.amount_per_day(session, Payout, since=since, currency=currency),
    )


async def created_per_day(session: AsyncSession, *, since: datetime) -> tuple[dict[date, int], dict[date, int]]:
    """Collections, then payouts, created on each UTC day from ``since`` on (days with none absent)."""
    return (
        await repository.count_per_day(session, Collection, since=since),
        await repository.count_per_day(session, Payout, since=since),
    )


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    *,
    providers: failover.CollectionRouter,
    after_seconds: int,
    actor: Actor,
    clock: Clock,
    give_up_after_seconds: int | None = None,
    batch_size: int = RECONCILE_BATCH_SIZE,
) -> ReconcileReport:
    """Ask the providers about every collection and payout still open after
    ``after_seconds`` (and not asked since), and finish them. Each is looked up
    with no transaction open and updated in its own. One that has not moved for
    ``give_up_after_seconds`` is alerted once and asked no more (``requeue``)."""
    now = clock()
    older_than = now - timedelta(seconds=after_seconds)
    give_up = timedelta(seconds=give_up_after_seconds) if give_up_after_seconds is not None else None
    given_up = await _give_up(sessions, give_up=give_up, now=now, batch_size=batch_size) if give_up else 0
    moved_after = now - give_up if give_up else None
    async with db.transaction(sessions) as session:
        collection_ids = await repository.due_for_check(
            session, Collection, older_than=older_than, moved_after=moved_after, limit=batch_size
        )
        payout_ids = await repository.due_for_check(
            session, Payout, older_than=older_than, moved_after=moved_after, limit=batch_size
        )
    outcomes = [
        await _isolated(
            reconcile_collection(sessions, collection_id=collection_id, providers=providers, actor=actor, clock=clock),
            what=collection_id,
        )
        for collection_id in collection_ids
    ] + [
        await _isolated(
            reconcile_payout(sessions, payout_id=payout_id, providers=providers, actor=actor, clock=clock),
            what=payout_id,
        )
        for payout_id in payout_ids
    ]
    return ReconcileReport(
        checked=len(outcomes),
        changed=outcomes.count(Applied.changed),
        unreachable=outcomes.count(None),
        given_up=given_up,
    )


async def _give_up(
    sessions: async_sessionmaker[AsyncSession], *, give_up: timedelta, now: datetime, batch_size: int
) -> int:
    """Alert once about each item that has not moved for ``give_up``: the provider
    kept saying it is pending, so asking every minute is noise; an operator looks."""
    async with db.transaction(sessions) as session:
        count = await _give_up_rows(session, Collection, give_up=give_up, now=now, batch_size=batch_size)
    async with db.transaction(sessions) as session:
        count += await _give_up_rows(session, Payout, give_up=give_up, now=now, batch_size=batch_size)
    if count:
        log.warning("reconcile.given_up", count=count)
    return count


async def _give_up_rows(
    session: AsyncSession, model: type[repository.Row], *, give_up: timedelta, now: datetime, batch_size: int
) -> int:
    entity_type = model.__name__.lower()
    rows = await repository.newly_given_up(session, model, give_up_after=give_up, now=now, limit=batch_size)
    for row_id, platform_id in rows:
        await flow.alert_once(
            session,
            kind=f"{entity_type}.reconcile_given_up",
            severity="warning",
            message=(
                f"{model.__name__} {row_id} has not moved for {give_up}: reconciliation stopped asking "
                f"its provider. Look at it there, then re-queue it (POST /v1/{entity_type}s/{row_id}/requeue)."
            ),
            entity_type=entity_type,
            entity_id=row_id,
            platform_id=platform_id,
            data={"give_up_after_seconds": int(give_up.total_seconds())},
        )
        await repository.mark_checked(session, model, row_id, now=now)
    return len(rows)


async def requeue(
    session: AsyncSession,
    model: type[repository.Row],
    row_id: str,
    *,
    now: datetime,
    actor: Actor,
    reason: str | None = None,
) -> repository.Row:
    """An operator puts a given-up collection or payout back among those asked every run;
    the audit row keeps who did it and why."""
    row = await flow.locked(session, model, row_id)
    check_open(model, row)
    await repository.requeue(session, model, row_id, now=now)
    await session.refresh(row)
    entity_type = model.__name__.lower()
    await audit_service.record(
        session,
        actor=actor,
        platform_id=row.platform_id,
        action=f"{entity_type}.requeued",
        entity_type=entity_type,
        entity_id=row_id,
        data=audit_service.with_reason(reason),
    )
    log.info("reconcile.requeued", entity_id=row_id)
    return row


def check_open(model: type[repository.Row], row: repository.Row) -> None:
    """``NotOpen`` unless ``row`` is still open: a final one has nothing left to reconcile."""
    finals: frozenset[str] = frozenset(
        state.value for state in (COLLECTION_STATES.final if model is Collection else PAYOUT_STATES.final)
    )
    if row.status in finals:
        raise NotOpen(f"{model.__name__} {row.id} is {row.status}: there is nothing left to reconcile.")


async def _isolated(check: Awaitable[Applied | None], *, what: str) -> Applied | None:
    """One item's reconciliation, kept from stopping the rest of the batch: an
    unexpected error (a malformed provider answer, a route removed since) is
    logged and counted as not reached, and the item is tried again next run."""
    try:
        return await check
    except Exception:
        log.exception("reconcile.item_failed", item=what)
        return None


async def reconcile_collection(
    sessions: async_sessionmaker[AsyncSession],
    *,
    collection_id: str,
    providers: failover.CollectionRouter,
    actor: Actor,
    clock: Clock,
) -> Applied | None:
    """Look the collection up at its provider (at every provider of its route
    when none had answered) and apply what it says; None when no provider could
    be asked. A collection no provider of its route knows never reached one: it failed."""
    async with db.transaction(sessions) as session:
        collection = await repository.get(session, Collection, collection_id)
        if collection is None or CollectionStatus(collection.status) in COLLECTION_STATES.final:
            return Applied.unchanged
        await repository.mark_checked(session, Collection, collection_id, now=clock())
    if collection.provider is not None:
        candidates = [provider_base.ProviderName(collection.provider)]
    else:
        candidates = providers.route(collection.currency, provider_base.PaymentMethod(collection.method))
    with provider_calls.recording() as notes:
        asked = await _ask_collection(providers, collection, candidates)
    async with db.transaction(sessions) as session:
        await calls.store(session, notes, payment=collection)
        if asked is None:
            return None
        _, applied = await collection_flow.apply_collection_update(
            session, collection_id=collection.id, update=asked, now=clock(), actor=actor
        )
    log.info("reconcile.collection", collection_id=collection.id, applied=applied.value, reported=asked.status.value)
    return applied


async def _ask_collection(
    providers: failover.CollectionRouter, collection: Collection, candidates: Sequence[provider_base.ProviderName]
) -> collection_flow.CollectionUpdate | None:
    """What the first provider of ``candidates`` that knows the collection says (failed, when
    none knows it); None when one could not be asked (reconciliation tries again later)."""
    for name in candidates:
        lookup = provider_base.StatusLookup(
            reference=collection.id,
            provider_reference=collection.provider_reference if collection.provider == name.value else None,
            request=collection_flow.provider_request(collection),
            requested_at=collection.created_at,
        )
        provider = providers.provider(name)
        try:
            result = await provider.collection_status(lookup)
        except provider_errors.NotFoundAtProvider:
            continue
        except provider_errors.ProviderError as exc:
            log.warning("reconcile.lookup_failed", collection_id=collection.id, provider=name.value, error=exc.code)
            return None
        update = collection_flow.collection_update_from_result(result, Source.reconciliation)
        if result.status is ReportedCollectionStatus.pending and collection.next_action is None:
            update = await _with_pending_step(provider, lookup, update)
        return update
    return collection_flow.CollectionUpdate(
        source=Source.reconciliation,
        provider=None,
        status=ReportedCollectionStatus.failed,
        failure_code="not_found_at_provider",
        failure_message=f"No provider of the route ({', '.join(n.value for n in candidates)}) knows it.",
        detail="not_found",
    )


async def _with_pending_step(
    provider: provider_base.PaymentProvider,
    lookup: provider_base.StatusLookup,
    update: collection_flow.CollectionUpdate,
) -> collection_flow.CollectionUpdate:
    """A pending collection Sika shows no step for may wait for one a crash lost
    (the answer to ``collect`` never recorded, an OTP submission cut short): ask
    the provider which, so the customer is asked again instead of it waiting forever."""
    try:
        step = await provider.collection_pending_step(lookup)
    except provider_errors.ProviderError as exc:
        log.warning("reconcile.pending_step_failed", collection_id=lookup.reference, error=exc.code)
        return update
    if step.next_action is provider_base.NextAction.none:
        return update
    return dataclasses.replace(
        update,
        next_action=step.next_action,
        display_text=step.display_text,
        redirect_url=step.redirect_url,
        detail=step.provider_status,
        restores_step=True,
    )


async def reconcile_payout(
    sessions: async_sessionmaker[AsyncSession],
    *,
    payout_id: str,
    providers: failover.CollectionRouter,
    actor: Actor,
    clock: Clock,
) -> Applied | None:
    """Look the payout up at its provider and apply what it says; a payout the
    provider does not know was never made: it failed and its hold is released."""
    async with db.transaction(sessions) as session:
        payout = await repository.get(session, Payout, payout_id)
        if payout is None or PayoutStatus(payout.status) in PAYOUT_STATES.final:
            return Applied.unchanged
        await repository.mark_checked(session, Payout, payout_id, now=clock())
    with provider_calls.recording() as notes:
        update = await _ask_payout(providers, payout)
    async with db.transaction(sessions) as session:
        await calls.store(session, notes, payment=payout)
        if update is None:
            return None
        _, applied = await payout_flow.apply_payout_update(
            session, payout_id=payout.id, update=update, now=clock(), actor=actor
        )
    log.info("reconcile.payout", payout_id=payout.id, applied=applied.value, reported=update.status.value)
    return applied


async def _ask_payout(providers: failover.CollectionRouter, payout: Payout) -> payout_flow.PayoutUpdate | None:
    """What the payout's provider says of it (never made, when it does not know it);
    None when it could not be asked (reconciliation tries again later)."""
    name = provider_base.ProviderName(payout.provider)
    try:
        result = await providers.provider(name).payout_status(
            provider_base.StatusLookup(reference=payout.id, provider_reference=payout.provider_reference)
        )
    except provider_errors.NotFoundAtProvider:
        return payout_flow.PayoutUpdate(
            source=Source.reconciliation,
            provider=name,
            status=ReportedPayoutStatus.failed,
            failure_code="not_found_at_provider",
            failure_message=f"{name.value} does not know this payout: it was never made.",
            detail="not_found",
        )
    except provider_errors.ProviderError as exc:
        log.warning("reconcile.lookup_failed", payout_id=payout.id, provider=name.value, error=exc.code)
        return None
    return payout_flow.payout_update_from_result(result, Source.reconciliation)
