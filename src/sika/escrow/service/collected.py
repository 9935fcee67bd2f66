"""Funding an escrow by mobile money or card: a collection into the client's wallet
whose success is deposited into the escrow in the same transaction as the credit.

``fund_by_collection`` checks the escrow may take the deposit (under its lock),
then starts the collection through the payments flow, whose first phase also
records which escrow the collection funds (``escrow_collections``). Nothing is
deposited then: the escrow is funded only when the collection succeeds, however
the news arrives (the provider's answer, its webhook, reconciliation, an OTP), by
the handler this module registers with the collection flow (``deposit_on_credit``):
it locks the escrow before the wallet is credited and deposits the collected amount
right after, in that transaction. A failed collection credits nothing and deposits
nothing. A deposit the escrow can no longer take (cancelled or funded since, the
client suspended) leaves the money in the client's wallet, and the escrow's event
``escrow.collection_not_deposited`` says why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.core.context import Actor
from sika.core.phases import Phases
from sika.escrow import repository
from sika.escrow.models import EscrowCollection
from sika.escrow.service import announce
from sika.escrow.service.access import EscrowView, Role, locked
from sika.escrow.service.escrows import deposit, deposit_of, get_escrow
from sika.payments import service as payments_service
from sika.payments.models import Collection
from sika.providers import failover


async def fund_by_collection(
    phases: Phases,
    *,
    escrow_id: str,
    amount_minor: int | None,
    method: payments_service.MobileMoney | payments_service.Card,
    email: str | None,
    return_url: str | None,
    providers: failover.CollectionRouter,
    idempotency_key: str | None,
    actor: Actor,
    clock: payments_service.Clock,
) -> tuple[EscrowView, Collection]:
    """Start a collection of ``amount_minor`` (None: what the escrow still needs) from the
    client's mobile money or card; the escrow as it stands after the provider's answer,
    and the collection as that answer left it."""
    session = phases.first
    now = clock()
    escrow = await locked(session, escrow_id=escrow_id, actor=actor, role=Role.client, action="fund it")
    amount = deposit_of(escrow, amount_minor)

    async def recorded(session: AsyncSession, collection: Collection) -> None:
        link = EscrowCollection(
            collection_id=collection.id,
            escrow_id=escrow.id,
            platform_id=escrow.platform_id,
            amount_minor=amount,
            created_at=now,
        )
        await repository.add(session, link)
        data = {"collection_id": collection.id, "amount_minor": amount}
        await announce.audit(session, escrow, "escrow.collection_started", actor=actor, data=data)

    collection = await payments_service.create_collection(
        phases,
        party_id=escrow.client_party_id,
        wallet_id=escrow.client_wallet_id,
        amount_minor=amount,
        currency=escrow.currency,
        method=method,
        email=email,
        description=f"Escrow {escrow.id}",
        return_url=return_url,
        providers=providers,
        idempotency_key=idempotency_key,
        actor=actor,
        clock=clock,
        recorded=recorded,
    )
    async with phases.phase() as session:
        return await get_escrow(session, escrow_id=escrow_id, actor=actor), collection


async def deposit_on_credit(
    session: AsyncSession, collection: Collection, now: datetime, actor: Actor
) -> payments_service.AfterCredit | None:
    """The collection flow's handler (``payments_service.on_credit``): for a collection
    that funds an escrow, lock the escrow now and deposit once the wallet is credited."""
    link = await repository.funding_collection(session, collection.id)
    if link is None:
        return None
    escrow = await repository.get_for_update(session, link.escrow_id)
    assert escrow is not None, "a foreign key keeps the escrow"

    async def deposit_collected() -> None:
        source = {"collection_id": collection.id}
        try:
            amount = deposit_of(escrow, link.amount_minor)
            async with session.begin_nested():
                await deposit(session, escrow, amount, source=source, actor=actor, now=now)
        except errors.SikaError as refusal:
            await session.refresh(escrow)  # what the rolled-back savepoint had changed on it
            data = {**source, "amount_minor": link.amount_minor, "code": refusal.code, "detail": refusal.detail}
            await announce.event(session, escrow, "escrow.collection_not_deposited", now=now, data=data)
            await announce.audit(session, escrow, "escrow.collection_not_deposited", actor=actor, data=data)

    return deposit_collected


payments_service.on_credit("escrow", deposit_on_credit)
