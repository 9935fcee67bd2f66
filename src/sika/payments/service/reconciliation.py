"""Reconciliation: finishing what a crash or a lost answer left open.

Each run asks the providers about the collections and payouts still open
after a while (and not asked since) and applies what they say as news, like
a webhook. Each item is looked up with no transaction open and updated in
its own, so one slow or failing provider holds nothing. Also what an
operator sees of the flows: the ones stuck open, and how many were created
per day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.core import db
from sika.core.context import Actor
from sika.payments import repository
from sika.payments.models import Collection, Payout
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
    batch_size: int = RECONCILE_BATCH_SIZE,
) -> ReconcileReport:
    """Ask the providers about every collection and payout still open after
    ``after_seconds`` (and not asked since), and finish them. Each is looked up
    with no transaction open and updated in its own."""
    older_than = clock() - timedelta(seconds=after_seconds)
    async with db.transaction(sessions) as session:
        collection_ids = await repository.due_for_check(session, Collection, older_than=older_than, limit=batch_size)
        payout_ids = await repository.due_for_check(session, Payout, older_than=older_than, limit=batch_size)
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
    )


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
    update: collection_flow.CollectionUpdate | None = None
    for name in candidates:
        lookup = provider_base.StatusLookup(
            reference=collection.id,
            provider_reference=collection.provider_reference if collection.provider == name.value else None,
            request=collection_flow.provider_request(collection),
            requested_at=collection.created_at,
        )
        try:
            result = await providers.provider(name).collection_status(lookup)
        except provider_errors.NotFoundAtProvider:
            continue
        except provider_errors.ProviderError as exc:
            log.warning("reconcile.lookup_failed", collection_id=collection.id, provider=name.value, error=exc.code)
            return None
        update = collection_flow.collection_update_from_result(result, Source.reconciliation)
        break
    if update is None:
        update = collection_flow.CollectionUpdate(
            source=Source.reconciliation,
            provider=None,
            status=ReportedCollectionStatus.failed,
            failure_code="not_found_at_provider",
            failure_message=f"No provider of the route ({', '.join(n.value for n in candidates)}) knows it.",
            detail="not_found",
        )
    async with db.transaction(sessions) as session:
        _, applied = await collection_flow.apply_collection_update(
            session, collection_id=collection.id, update=update, now=clock(), actor=actor
        )
    log.info("reconcile.collection", collection_id=collection.id, applied=applied.value, reported=update.status.value)
    return applied


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
    name = provider_base.ProviderName(payout.provider)
    try:
        result = await providers.provider(name).payout_status(
            provider_base.StatusLookup(reference=payout.id, provider_reference=payout.provider_reference)
        )
        update = payout_flow.payout_update_from_result(result, Source.reconciliation)
    except provider_errors.NotFoundAtProvider:
        update = payout_flow.PayoutUpdate(
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
    async with db.transaction(sessions) as session:
        _, applied = await payout_flow.apply_payout_update(
            session, payout_id=payout.id, update=update, now=clock(), actor=actor
        )
    log.info("reconcile.payout", payout_id=payout.id, applied=applied.value, reported=update.status.value)
    return applied
