"""Transfers between parties: sending (the sender's token, or the platform's
key on its behalf), reading, listing.

A transfer is written only once its money has moved, in the same transaction:
wallets pays the recipient's wallet and the platform's fee in one journal
entry after the platform's P2P rules admitted it (``wallets.pay_party``), then
the row, its ``transfer.succeeded`` event and its audit row are added. A
refusal (the rules, insufficient funds, a suspended sender) writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sika.audit import service as audit_service
from sika.core import errors, ids, paging
from sika.core.context import Actor
from sika.events import service as events_service
from sika.parties import service as parties_service
from sika.platforms import service as platforms_service
from sika.transfers import repository, schemas
from sika.transfers.models import TRANSFER_CODE, Transfer
from sika.wallets import service as wallets_service


class TransferNotFound(errors.NotFound):
    """No such transfer between parties."""

    code = "party_transfer_not_found"


class TransferFeeTakesAll(errors.ValidationFailed):
    """The platform's fee would take the whole amount: the recipient would get nothing."""

    code = "transfer_fee_takes_all"


async def send(session: AsyncSession, *, body: schemas.TransferCreate, actor: Actor, now: datetime) -> Transfer:
    source = await wallets_service.owned_wallet(session, wallet_id=body.source_wallet_id, actor=actor)
    destination = await wallets_service.recipient_wallet(session, source=source, wallet_id=body.destination_wallet_id)
    fee = await platforms_service.fee_of_platform(
        session, platform_id=source.platform_id, currency=source.currency, amount_minor=body.amount_minor
    )
    if fee >= body.amount_minor:
        raise TransferFeeTakesAll(f"The platform's fee on {body.amount_minor} is {fee}.")
    transfer = Transfer(
        id=ids.new_id("trf"),
        platform_id=source.platform_id,
        sender_party_id=source.party_id,
        recipient_party_id=destination.party_id,
        sender_wallet_id=source.id,
        recipient_wallet_id=destination.id,
        currency=source.currency,
        amount_minor=body.amount_minor,
        fee_minor=fee,
        status="succeeded",
        reference=body.reference,
        metadata_=body.metadata,
        created_by=actor.id,
        created_at=now,
    )
    await wallets_service.pay_party(
        session,
        source=source,
        destination=destination,
        amount_minor=transfer.amount_minor,
        fee_minor=fee,
        transfer_id=transfer.id,
        code=TRANSFER_CODE,
        metadata={"reference": body.reference} if body.reference else {},
        actor=actor,
        now=now,
    )
    await repository.add(session, transfer)
    await _announce(session, transfer, actor=actor, now=now)
    return transfer


async def _announce(session: AsyncSession, transfer: Transfer, *, actor: Actor, now: datetime) -> None:
    data = {
        "sender_party_id": transfer.sender_party_id,
        "recipient_party_id": transfer.recipient_party_id,
        "source_wallet_id": transfer.sender_wallet_id,
        "destination_wallet_id": transfer.recipient_wallet_id,
        "currency": transfer.currency,
        "amount_minor": transfer.amount_minor,
        "fee_minor": transfer.fee_minor,
        "reference": transfer.reference,
    }
    await events_service.emit(
        session,
        type="transfer.succeeded",
        entity_type="transfer",
        entity_id=transfer.id,
        party_id=transfer.sender_party_id,
        platform_id=transfer.platform_id,
        data=data,
        now=now,
    )
    await audit_service.record(
        session,
        actor=actor,
        platform_id=transfer.platform_id,
        action="transfer.created",
        entity_type="transfer",
        entity_id=transfer.id,
        data=data,
    )


async def get_transfer(session: AsyncSession, *, transfer_id: str, actor: Actor) -> Transfer:
    """A party token sees the transfers it sent or received."""
    transfer = await repository.get(session, transfer_id)
    if transfer is None or (actor.is_party and actor.party_id not in _sides(transfer)):
        raise TransferNotFound()
    return transfer


async def list_transfers(
    session: AsyncSession, *, party_id: str | None, wallet_id: str | None, actor: Actor, page: paging.Page
) -> Sequence[Transfer]:
    """Newest first; a party token lists only its own (``party_id`` defaults to it)."""
    if actor.is_party:
        party_id = party_id or actor.party_id
        parties_service.check_owner(actor, party_id or "")
    return await repository.list_transfers(session, party_id=party_id, wallet_id=wallet_id, page=page)


async def recent(session: AsyncSession, *, limit: int) -> Sequence[Transfer]:
    """The newest transfers the session sees, for operators (the dashboard)."""
    return await repository.list_transfers(session, party_id=None, wallet_id=None, page=paging.Page(limit=limit))


def _sides(transfer: Transfer) -> tuple[str, str]:
    return transfer.sender_party_id, transfer.recipient_party_id


def out(transfer: Transfer) -> schemas.TransferOut:
    return schemas.TransferOut.model_validate(
        {
            **{name: getattr(transfer, name) for name in schemas.TransferOut.model_fields if hasattr(transfer, name)},
            "source_wallet_id": transfer.sender_wallet_id,
            "destination_wallet_id": transfer.recipient_wallet_id,
            "metadata": transfer.metadata_,
            "received_minor": transfer.amount_minor - transfer.fee_minor,
        }
    )
