"""The look-ups behind search, one per kind, through the request's session (so
a session bound to a platform sees that platform's rows only).

Each is one query whose conditions are ORed: the kind's id, and those of the
query's readings (``Keys``) that the kind has a column for; an amount window
then narrows the kinds that carry an amount and leaves out those that do not.
The indexes these rely on (migration 0012) are listed in docs/support.md.
Below them, what a timeline reads: the rows other domains wrote about one
object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sika.alerts.models import Alert
from sika.audit.models import AuditEvent
from sika.escrow.models import Escrow
from sika.instalments.models import Instalment, InstalmentPlan
from sika.ledger.models import Transfer
from sika.mandates.models import Mandate
from sika.outbound.models import Delivery
from sika.parties.models import Party
from sika.payments.models import Collection, Payout, ProviderCall
from sika.promos.models import PromoCode
from sika.proofs.models import Proof
from sika.transfers.models import Transfer as PartyTransfer
from sika.wallets.models import Wallet, WalletHold
from sika.webhooks.models import InboundEvent

_Row = TypeVar("_Row")


@dataclass(frozen=True)
class Keys:
    """The readings of a query; ``text`` is the query itself (None: no query)."""

    text: str | None = None
    id_kind: str | None = None
    """What the id's prefix names (``collection``, ``party``…), when it is one."""
    sika_id: str | None = None
    """The id, without what a derived id adds after it (``col_….credit``)."""
    email: str | None = None
    """Lower case."""
    phone: str | None = None
    """A whole E.164 number."""
    phone_suffix: str | None = None
    """The trailing digits of a number."""

    def named(self) -> list[str]:
        """The readings, in words: what the answer says the query was taken for."""
        readings = [f"id:{self.id_kind}"] if self.id_kind else []
        readings += ["email"] * bool(self.email) + ["phone"] * bool(self.phone)
        readings += ["phone_suffix"] * bool(self.phone_suffix)
        return readings + ["reference"] * bool(self.text)


@dataclass(frozen=True)
class Window:
    """An amount and a date window; each part is optional."""

    amount_minor: int | None = None
    currency: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Found(Generic[_Row]):
    rows: list[_Row] = field(default_factory=list)
    more: bool = False
    """More rows matched than were read."""


@dataclass(frozen=True)
class HoldRow:
    record: WalletHold
    pending: Transfer
    resolution: Transfer | None


def _id_is(keys: Keys, kind: str, column: Any) -> list[sa.ColumnElement[bool]]:
    return [column == keys.sika_id] if keys.id_kind == kind else []


def _phone_is(keys: Keys, column: Any) -> list[sa.ColumnElement[bool]]:
    if keys.phone is not None:
        return [column == keys.phone]
    if keys.phone_suffix is not None:
        # Reversed, the last digits are a prefix: an index on reverse(phone) can serve it (docs/support.md).
        return [sa.func.reverse(column).like(f"{keys.phone_suffix[::-1]}%")]
    return []


def _text_is(keys: Keys, *columns: Any) -> list[sa.ColumnElement[bool]]:
    return [column == keys.text for column in columns] if keys.text is not None else []


def _narrowed(
    conditions: list[sa.ColumnElement[bool]],
    within: Window,
    *,
    created: Any,
    amount: Any = None,
    currency: Any = None,
) -> sa.ColumnElement[bool] | None:
    """The kind's whole condition, or None when nothing can match it: no reading
    applies, or an amount is asked of a kind that has none."""
    if within.amount_minor is not None and amount is None:
        return None
    narrowing: list[sa.ColumnElement[bool]] = []
    if within.amount_minor is not None:
        narrowing.append(amount == within.amount_minor)
        if within.currency is not None:
            narrowing.append(currency == within.currency)
    if within.since is not None:
        narrowing.append(created >= within.since)
    if within.until is not None:
        narrowing.append(created <= within.until)
    if conditions:
        narrowing.append(sa.or_(*conditions))
    elif within.amount_minor is None:
        return None
    return sa.and_(*narrowing)


async def _read(session: AsyncSession, statement: sa.Select[*tuple[Any, ...]], limit: int) -> tuple[list[Any], bool]:
    rows = list((await session.execute(statement.limit(limit + 1))).all())
    return rows[:limit], len(rows) > limit


async def _newest(
    session: AsyncSession, model: type[_Row], where: sa.ColumnElement[bool] | None, limit: int
) -> Found[_Row]:
    """The newest rows of ``model`` that ``where`` finds (nothing when there is no condition)."""
    if where is None:
        return Found()
    columns: Any = model
    statement = sa.select(model).where(where).order_by(columns.created_at.desc(), columns.seq.desc())
    rows, more = await _read(session, statement, limit)
    return Found([row[0] for row in rows], more)


async def parties(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Party]:
    conditions = _id_is(keys, "party", Party.id) + _phone_is(keys, Party.phone)
    if keys.email is not None:
        conditions.append(sa.func.lower(Party.email) == keys.email)
    where = _narrowed(conditions, within, created=Party.created_at)
    if where is None:
        return Found()
    rows, more = await _read(
        session, sa.select(Party).where(where).order_by(Party.created_at.desc(), Party.seq.desc()), limit
    )
    return Found([row[0] for row in rows], more)


async def wallets(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Wallet]:
    conditions = _id_is(keys, "wallet", Wallet.id)
    if keys.id_kind == "ledger_account":
        conditions += [Wallet.account_id == keys.sika_id, Wallet.holds_account_id == keys.sika_id]
    where = _narrowed(conditions, within, created=Wallet.created_at)
    if where is None:
        return Found()
    rows, more = await _read(
        session, sa.select(Wallet).where(where).order_by(Wallet.created_at.desc(), Wallet.seq.desc()), limit
    )
    return Found([row[0] for row in rows], more)


async def collections(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Collection]:
    conditions = _id_is(keys, "collection", Collection.id) + _phone_is(keys, Collection.phone)
    conditions += _text_is(keys, Collection.provider_reference, Collection.idempotency_key)
    if keys.email is not None:
        conditions.append(sa.func.lower(Collection.customer_email) == keys.email)
    where = _narrowed(
        conditions,
        within,
        created=Collection.created_at,
        amount=Collection.amount_minor,
        currency=Collection.currency,
    )
    return await _newest(session, Collection, where, limit)


async def payouts(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Payout]:
    conditions = _id_is(keys, "payout", Payout.id) + _id_is(keys, "hold", Payout.hold_id)
    conditions += _phone_is(keys, Payout.phone) + _text_is(keys, Payout.provider_reference, Payout.idempotency_key)
    where = _narrowed(
        conditions, within, created=Payout.created_at, amount=Payout.amount_minor, currency=Payout.currency
    )
    return await _newest(session, Payout, where, limit)


async def escrows(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Escrow]:
    """Escrows by their id, or by either party's id (what a client or a talent quotes)."""
    conditions = _id_is(keys, "escrow", Escrow.id)
    conditions += _id_is(keys, "party", Escrow.client_party_id) + _id_is(keys, "party", Escrow.beneficiary_party_id)
    where = _narrowed(
        conditions, within, created=Escrow.created_at, amount=Escrow.amount_minor, currency=Escrow.currency
    )
    return await _newest(session, Escrow, where, limit)


async def proofs(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Proof]:
    """Proofs of delivery by their id, or by their escrow's id (an escrow's photos)."""
    conditions = _id_is(keys, "proof", Proof.id) + _id_is(keys, "escrow", Proof.escrow_id)
    where = _narrowed(conditions, within, created=Proof.created_at)
    return await _newest(session, Proof, where, limit)


async def mandates(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Mandate]:
    """Mandates by their id, or by the sender's or the beneficiary's id (what either quotes)."""
    conditions = _id_is(keys, "mandate", Mandate.id)
    conditions += _id_is(keys, "party", Mandate.sender_party_id) + _id_is(keys, "party", Mandate.beneficiary_party_id)
    where = _narrowed(
        conditions, within, created=Mandate.created_at, amount=Mandate.funded_minor, currency=Mandate.currency
    )
    return await _newest(session, Mandate, where, limit)


async def party_transfers(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[PartyTransfer]:
    """Transfers between parties by their id, or by either party's or wallet's id."""
    conditions = _id_is(keys, "transfer", PartyTransfer.id)
    conditions += _id_is(keys, "party", PartyTransfer.sender_party_id) + _id_is(
        keys, "party", PartyTransfer.recipient_party_id
    )
    conditions += _id_is(keys, "wallet", PartyTransfer.sender_wallet_id) + _id_is(
        keys, "wallet", PartyTransfer.recipient_wallet_id
    )
    where = _narrowed(
        conditions,
        within,
        created=PartyTransfer.created_at,
        amount=PartyTransfer.amount_minor,
        currency=PartyTransfer.currency,
    )
    return await _newest(session, PartyTransfer, where, limit)


async def webhook_deliveries(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Delivery]:
    """Deliveries to platforms' endpoints by their id, or those of the events of a
    collection, a payout or an escrow: whether the platform was told."""
    conditions = _id_is(keys, "webhook_delivery", Delivery.id)
    for kind in ("collection", "payout", "escrow"):
        conditions += _id_is(keys, kind, Delivery.entity_id)
    where = _narrowed(conditions, within, created=Delivery.created_at)
    return await _newest(session, Delivery, where, limit)


async def promo_codes(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[PromoCode]:
    """Promo codes by their id, or by their code whatever its case (what a customer reads out)."""
    conditions = _id_is(keys, "promo_code", PromoCode.id)
    if keys.text is not None:
        conditions.append(sa.func.lower(PromoCode.code) == keys.text.lower())
    where = _narrowed(
        conditions, within, created=PromoCode.created_at, amount=PromoCode.amount_off_minor, currency=PromoCode.currency
    )
    return await _newest(session, PromoCode, where, limit)


async def instalment_plans(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[InstalmentPlan]:
    """Instalment plans by their id, or by their payer's id."""
    conditions = _id_is(keys, "instalment_plan", InstalmentPlan.id) + _id_is(
        keys, "party", InstalmentPlan.payer_party_id
    )
    where = _narrowed(
        conditions,
        within,
        created=InstalmentPlan.created_at,
        amount=InstalmentPlan.total_minor,
        currency=InstalmentPlan.currency,
    )
    return await _newest(session, InstalmentPlan, where, limit)


async def instalments(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[Instalment]:
    """Instalments by their id, or by their plan's id."""
    conditions = _id_is(keys, "instalment", Instalment.id) + _id_is(keys, "instalment_plan", Instalment.plan_id)
    where = _narrowed(conditions, within, created=Instalment.created_at)
    return await _newest(session, Instalment, where, limit)


async def holds(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[HoldRow]:
    """Holds by their id, or by the payout that owns one; each with its pending
    transfer (amount, expiry) and its resolution, if any."""
    conditions = _id_is(keys, "hold", WalletHold.id) + _id_is(keys, "payout", WalletHold.owner_id)
    pending = aliased(Transfer)
    resolution = aliased(Transfer)
    where = _narrowed(
        conditions, within, created=WalletHold.created_at, amount=pending.amount_minor, currency=pending.currency
    )
    if where is None:
        return Found()
    statement = (
        sa.select(WalletHold, pending, resolution)
        .join(pending, pending.id == WalletHold.id)
        .outerjoin(resolution, resolution.pending_id == WalletHold.id)
        .where(where)
        .order_by(WalletHold.created_at.desc(), WalletHold.id.desc())
    )
    rows, more = await _read(session, statement, limit)
    return Found([HoldRow(record, held, resolved) for record, held, resolved in rows], more)


async def webhook_events(session: AsyncSession, keys: Keys, within: Window, *, limit: int) -> Found[InboundEvent]:
    """Events by their id, by the provider's event id, or by the collection or
    payout they name (``reference``, indexed)."""
    conditions = _id_is(keys, "webhook_event", InboundEvent.id) + _text_is(keys, InboundEvent.event_id)
    if keys.id_kind in {"collection", "payout"}:
        conditions.append(InboundEvent.reference == keys.sika_id)
    where = _narrowed(conditions, within, created=InboundEvent.received_at)
    if where is None:
        return Found()
    statement = sa.select(InboundEvent).where(where).order_by(InboundEvent.received_at.desc(), InboundEvent.seq.desc())
    rows, more = await _read(session, statement, limit)
    return Found([row[0] for row in rows], more)


# The story of one object (its timeline) -----------------------------------------


async def audit_rows(session: AsyncSession, *, entity_type: str, entity_id: str) -> list[AuditEvent]:
    """Its audit rows in the order they were written (``ix_audit_events_entity``)."""
    statement = (
        sa.select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.seq)
    )
    return list(await session.scalars(statement))


async def alerts_about(session: AsyncSession, *, entity_type: str, entity_id: str) -> list[Alert]:
    statement = (
        sa.select(Alert).where(Alert.entity_type == entity_type, Alert.entity_id == entity_id).order_by(Alert.seq)
    )
    return list(await session.scalars(statement))


async def webhook_events_naming(session: AsyncSession, *, reference: str) -> list[InboundEvent]:
    """The webhook events that named ``reference`` (``ix_webhooks_inbound_events_reference``)."""
    statement = sa.select(InboundEvent).where(InboundEvent.reference == reference).order_by(InboundEvent.seq)
    return list(await session.scalars(statement))


async def transfers(session: AsyncSession, transfer_ids: list[str]) -> list[Transfer]:
    if not transfer_ids:
        return []
    statement = sa.select(Transfer).where(Transfer.id.in_(transfer_ids)).order_by(Transfer.seq)
    return list(await session.scalars(statement))


async def resolutions_of(session: AsyncSession, pending_id: str) -> list[Transfer]:
    """What resolved a pending transfer (a hold's capture, release or expiry)."""
    statement = sa.select(Transfer).where(Transfer.pending_id == pending_id).order_by(Transfer.seq)
    return list(await session.scalars(statement))


_Noted = TypeVar("_Noted", AuditEvent, Alert)


async def newest_about(
    session: AsyncSession, model: type[_Noted], *, entity_type: str, entity_id: str, limit: int
) -> list[_Noted]:
    """The newest ``limit`` audit rows or alerts about one object (a party's or a wallet's: they may be many)."""
    statement = (
        sa.select(model)
        .where(model.entity_type == entity_type, model.entity_id == entity_id)
        .order_by(model.seq.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def wallets_of(session: AsyncSession, party_id: str) -> list[Wallet]:
    """A party's wallets (one per currency: a handful)."""
    return list(await session.scalars(sa.select(Wallet).where(Wallet.party_id == party_id).order_by(Wallet.seq)))


_Linked = TypeVar("_Linked", Collection, Payout)


async def newest_of_party(session: AsyncSession, model: type[_Linked], *, party_id: str, limit: int) -> list[_Linked]:
    """A party's newest ``limit`` collections or payouts."""
    statement = sa.select(model).where(model.party_id == party_id).order_by(model.seq.desc()).limit(limit)
    return list(await session.scalars(statement))


async def newest_escrows_of(session: AsyncSession, *, party_id: str, limit: int) -> list[Escrow]:
    """The newest ``limit`` escrows the party is the client or the beneficiary of."""
    statement = (
        sa.select(Escrow)
        .where(sa.or_(Escrow.client_party_id == party_id, Escrow.beneficiary_party_id == party_id))
        .order_by(Escrow.seq.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def provider_calls_for(session: AsyncSession, *, entity_type: str, entity_id: str) -> list[ProviderCall]:
    """What Sika sent the provider for a collection or payout, in order (``ix_payments_provider_calls_entity``)."""
    statement = (
        sa.select(ProviderCall)
        .where(ProviderCall.entity_id == entity_id, ProviderCall.entity_type == entity_type)
        .order_by(ProviderCall.seq)
    )
    return list(await session.scalars(statement))
