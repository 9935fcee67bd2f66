"""An operator's "re-run reconciliation now" for one collection or payout.

Support staff asked "where is my money?" should not wait for the minute job:
this asks the provider now, through the same lookup the job makes
(``reconciliation.reconcile_collection`` / ``reconcile_payout``), so what it
finds follows the usual rules (a late success credits the wallet once; a
payout the provider never made fails and its hold is released). Nothing here
moves money by itself. In phases, like every provider call: the object is
checked (in the caller's platform, and still open) and the request audited
with its reason, that transaction commits, the provider is asked with none
open, and the outcome is audited in a last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.payments import repository
from sika.payments.models import Collection, Payout
from sika.payments.repository import Row
from sika.payments.service import flow, reconciliation
from sika.payments.service.flow import Applied, Clock
from sika.providers import failover


class PaymentKind(StrEnum):
    """The objects an operator may reconcile or re-queue, as the dashboard names them."""

    collection = "collection"
    payout = "payout"


UNREACHABLE = "unreachable"
"""The outcome when no provider could be asked: nothing changed, the job asks again later."""


@dataclass(frozen=True)
class Reconciled(Generic[Row]):
    row: Row
    """As it stands after the provider's answer."""
    outcome: str
    """What the answer did: an ``Applied`` value, or ``UNREACHABLE``."""


async def reconcile_now(
    phases: Phases,
    model: type[Row],
    row_id: str,
    *,
    providers: failover.CollectionRouter,
    actor: Actor,
    reason: str,
    clock: Clock,
) -> Reconciled[Row]:
    """Ask the provider about ``row_id`` now and apply its answer. ``phases.first`` must be
    bound to the caller's platform: another platform's object is not found there."""
    entity_type = model.__name__.lower()
    row = await flow.locked(phases.first, model, row_id)
    reconciliation.check_open(model, row)
    status_before = row.status
    await audit_service.record(
        phases.first,
        actor=actor,
        platform_id=row.platform_id,
        action=f"{entity_type}.reconcile_requested",
        entity_type=entity_type,
        entity_id=row_id,
        data=audit_service.with_reason(reason, status=status_before),
    )
    await phases.commit_first()
    applied = await _ask(phases, model, row_id, providers=providers, actor=actor, clock=clock)
    outcome = applied.value if applied is not None else UNREACHABLE
    async with phases.phase() as session:
        after = await repository.get(session, model, row_id)
        assert after is not None  # collections and payouts are never deleted
        await audit_service.record(
            session,
            actor=actor,
            platform_id=after.platform_id,
            action=f"{entity_type}.reconciled",
            entity_type=entity_type,
            entity_id=row_id,
            data=audit_service.with_reason(reason, outcome=outcome, status_before=status_before, status=after.status),
        )
    return Reconciled(row=after, outcome=outcome)


async def _ask(
    phases: Phases,
    model: type[Collection] | type[Payout],
    row_id: str,
    *,
    providers: failover.CollectionRouter,
    actor: Actor,
    clock: Clock,
) -> Applied | None:
    if model is Collection:
        return await reconciliation.reconcile_collection(
            phases.sessions, collection_id=row_id, providers=providers, actor=actor, clock=clock
        )
    return await reconciliation.reconcile_payout(
        phases.sessions, payout_id=row_id, providers=providers, actor=actor, clock=clock
    )


async def reconcile_kind_now(
    phases: Phases,
    kind: PaymentKind,
    row_id: str,
    *,
    providers: failover.CollectionRouter,
    actor: Actor,
    reason: str,
    clock: Clock,
) -> str:
    """``reconcile_now`` for a caller that names the kind (the dashboard): the outcome."""
    if kind is PaymentKind.collection:
        return (
            await reconcile_now(
                phases, Collection, row_id, providers=providers, actor=actor, reason=reason, clock=clock
            )
        ).outcome
    return (
        await reconcile_now(phases, Payout, row_id, providers=providers, actor=actor, reason=reason, clock=clock)
    ).outcome


async def requeue_kind(
    session: AsyncSession, kind: PaymentKind, row_id: str, *, now: datetime, actor: Actor, reason: str
) -> None:
    """``reconciliation.requeue`` for a caller that names the kind (the dashboard)."""
    if kind is PaymentKind.collection:
        await reconciliation.requeue(session, Collection, row_id, now=now, actor=actor, reason=reason)
    else:
        await reconciliation.requeue(session, Payout, row_id, now=now, actor=actor, reason=reason)
