"""How a search query is read, and the search itself.

A query is read every way it can be (``Keys``): an id Sika issued (its prefix
names the kind), an email, a phone number in E.164 or the last digits of one,
and always as an opaque reference (the provider's reference, an
Idempotency-Key, a provider's event id), since those have no shape of their
own. Each kind is then looked up with the conditions that apply to it, newest
first, at most ``LIMIT_PER_KIND`` rows, with whether more matched."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sika.core import errors
from sika.core.context import Actor
from sika.escrow.models import Escrow
from sika.instalments.models import Instalment, InstalmentPlan
from sika.mandates.models import Mandate
from sika.outbound.models import Delivery
from sika.parties.models import Party
from sika.payments.models import Collection, Payout
from sika.promos.models import PromoCode
from sika.proofs.models import Proof
from sika.search import repository
from sika.search.repository import Found, HoldRow, Keys, Window
from sika.transfers.models import Transfer as PartyTransfer
from sika.wallets import service as wallets_service
from sika.wallets.models import Wallet
from sika.webhooks.models import InboundEvent

_Row = TypeVar("_Row")

MAX_QUERY_LENGTH = 200
"""Characters; the longest value any key can have (a provider reference) is 200."""
LIMIT_PER_KIND = 20
"""Rows shown per kind: a search narrows down, it does not list."""
MIN_PHONE_DIGITS = 4
"""The fewest trailing digits of a phone number a query may give."""

_SIKA_ID = re.compile(r"^([a-z]+)_[a-z2-7]{26}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")
_DIGITS = re.compile(rf"^[0-9]{{{MIN_PHONE_DIGITS},15}}$")

ID_KINDS = {
    "pty": "party",
    "wal": "wallet",
    "acct": "ledger_account",
    "col": "collection",
    "po": "payout",
    "hold": "hold",
    "whe": "webhook_event",
    "esc": "escrow",
    "prf": "proof",
    "man": "mandate",
    "trf": "transfer",
    "whd": "webhook_delivery",
    "promo": "promo_code",
    "inp": "instalment_plan",
    "ins": "instalment",
}
"""The prefixes of the ids search knows, and the kind of object each names."""


@dataclass(frozen=True)
class Hit:
    """One object found, as a list shows it."""

    id: str
    state: str | None
    """Its status; a wallet has none."""
    amount_minor: int | None
    """A payment's or hold's amount; a wallet's available balance; None for a party or an event."""
    currency: str | None
    created_at: datetime
    """When it was made (an event: received)."""
    platform_id: str | None
    party_id: str | None = None
    wallet_id: str | None = None


@dataclass(frozen=True)
class Group:
    data: list[Hit]
    more: bool
    """More matched than ``LIMIT_PER_KIND``: narrow the query."""


@dataclass(frozen=True)
class Results:
    understood_as: list[str]
    parties: Group
    wallets: Group
    collections: Group
    payouts: Group
    holds: Group
    webhook_events: Group
    escrows: Group
    proofs: Group
    mandates: Group
    transfers: Group
    webhook_deliveries: Group
    promo_codes: Group
    instalment_plans: Group
    instalments: Group


_HOLD_STATE_BY_RESOLUTION = {"post_pending": "captured", "void_pending": "released", "expire_pending": "expired"}
"""As the holds API names them (``sika.wallets.schemas.HoldStatus``)."""


def phone_keys(query: str) -> tuple[str | None, str | None]:
    """``query`` as a whole E.164 number, or as trailing digits of one (``(None, None)``
    when it is neither). Spaces, dashes, dots, slashes and brackets are dropped and
    a leading ``00`` is the international ``+``, as numbers are written on receipts."""
    compact = _PHONE_SEPARATORS.sub("", query)
    international = "+" + compact[2:] if compact.startswith("00") else compact
    if _E164.match(international):
        return international, None
    if _DIGITS.match(compact):
        return None, compact
    return None, None


def read_query(query: str | None) -> Keys:
    """Every way ``query`` can be read; None or blank reads as no key at all."""
    if query is None:
        return Keys()
    text = query.strip()
    if not text:
        raise errors.ValidationFailed("Say what to look for: 'q' is blank.")
    if len(text) > MAX_QUERY_LENGTH:
        raise errors.ValidationFailed(f"'q' is longer than {MAX_QUERY_LENGTH} characters.")
    sika_id = _SIKA_ID.match(text)
    id_kind = ID_KINDS.get(sika_id.group(1)) if sika_id else None
    phone, phone_suffix = phone_keys(text)
    return Keys(
        text=text,
        id_kind=id_kind,
        sika_id=sika_id.group(0) if sika_id and id_kind else None,
        email=text.lower() if _EMAIL.match(text) else None,
        phone=phone,
        phone_suffix=phone_suffix,
    )


def window(*, amount_minor: int | None, currency: str | None, since: datetime | None, until: datetime | None) -> Window:
    if since is not None and until is not None and since > until:
        raise errors.ValidationFailed("'since' is after 'until': the date window is empty.")
    if currency is not None and amount_minor is None:
        raise errors.ValidationFailed("'currency' narrows an amount: send 'amount_minor' with it.")
    return Window(amount_minor=amount_minor, currency=currency, since=since, until=until)


async def search(session: AsyncSession, *, query: str | None, within: Window, actor: Actor, now: datetime) -> Results:
    """What ``query`` and ``within`` find, kind by kind, in the platforms ``session`` sees."""
    keys = read_query(query)
    if keys.text is None and within.amount_minor is None:
        raise errors.ValidationFailed("Send 'q' (an id, phone number, email or reference) or 'amount_minor'.")
    limit = LIMIT_PER_KIND
    return Results(
        understood_as=keys.named() + ["amount"] * (within.amount_minor is not None),
        parties=_group(await repository.parties(session, keys, within, limit=limit), _party_hit),
        wallets=await _wallets(session, await repository.wallets(session, keys, within, limit=limit), actor, now),
        collections=_group(await repository.collections(session, keys, within, limit=limit), _payment_hit),
        payouts=_group(await repository.payouts(session, keys, within, limit=limit), _payment_hit),
        holds=_group(await repository.holds(session, keys, within, limit=limit), lambda row: _hold_hit(row, now)),
        webhook_events=_group(await repository.webhook_events(session, keys, within, limit=limit), _event_hit),
        escrows=_group(await repository.escrows(session, keys, within, limit=limit), _escrow_hit),
        proofs=_group(await repository.proofs(session, keys, within, limit=limit), _proof_hit),
        mandates=_group(await repository.mandates(session, keys, within, limit=limit), _mandate_hit),
        transfers=_group(await repository.party_transfers(session, keys, within, limit=limit), _transfer_hit),
        webhook_deliveries=_group(
            await repository.webhook_deliveries(session, keys, within, limit=limit), _delivery_hit
        ),
        promo_codes=_group(await repository.promo_codes(session, keys, within, limit=limit), _promo_hit),
        instalment_plans=_group(await repository.instalment_plans(session, keys, within, limit=limit), _plan_hit),
        instalments=_group(await repository.instalments(session, keys, within, limit=limit), _instalment_hit),
    )


def _group(found: Found[_Row], hit: Callable[[_Row], Hit]) -> Group:
    return Group(data=[hit(row) for row in found.rows], more=found.more)


def _party_hit(party: Party) -> Hit:
    return Hit(party.id, party.status, None, None, party.created_at, party.platform_id, party_id=party.id)


def _payment_hit(payment: Collection | Payout) -> Hit:
    return Hit(
        payment.id,
        payment.status,
        payment.amount_minor,
        payment.currency,
        payment.created_at,
        payment.platform_id,
        party_id=payment.party_id,
        wallet_id=payment.wallet_id,
    )


def _hold_hit(row: HoldRow, now: datetime) -> Hit:
    if row.resolution is not None:
        state = _HOLD_STATE_BY_RESOLUTION[row.resolution.kind]
    else:
        lapsed = row.pending.expires_at is not None and row.pending.expires_at <= now
        state = "expired" if lapsed else "open"
    return Hit(
        row.record.id,
        state,
        row.pending.amount_minor,
        row.pending.currency,
        row.record.created_at,
        row.record.platform_id,
        wallet_id=row.record.wallet_id,
    )


def _escrow_hit(escrow: Escrow) -> Hit:
    return Hit(
        escrow.id,
        escrow.status,
        escrow.amount_minor,
        escrow.currency,
        escrow.created_at,
        escrow.platform_id,
        party_id=escrow.client_party_id,
        wallet_id=escrow.client_wallet_id,
    )


def _proof_hit(proof: Proof) -> Hit:
    return Hit(proof.id, proof.status, None, None, proof.created_at, proof.platform_id)


def _mandate_hit(mandate: Mandate) -> Hit:
    return Hit(
        mandate.id,
        mandate.status,
        mandate.funded_minor,
        mandate.currency,
        mandate.created_at,
        mandate.platform_id,
        party_id=mandate.sender_party_id,
        wallet_id=mandate.sender_wallet_id,
    )


def _transfer_hit(transfer: PartyTransfer) -> Hit:
    return Hit(
        transfer.id,
        transfer.status,
        transfer.amount_minor,
        transfer.currency,
        transfer.created_at,
        transfer.platform_id,
        party_id=transfer.sender_party_id,
        wallet_id=transfer.sender_wallet_id,
    )


def _delivery_hit(delivery: Delivery) -> Hit:
    return Hit(delivery.id, delivery.status, None, None, delivery.created_at, delivery.platform_id)


def _promo_hit(promo: PromoCode) -> Hit:
    state = "active" if promo.active else "inactive"
    return Hit(promo.id, state, promo.amount_off_minor, promo.currency, promo.created_at, promo.platform_id)


def _plan_hit(plan: InstalmentPlan) -> Hit:
    return Hit(plan.id, plan.status, plan.total_minor, plan.currency, plan.created_at, plan.platform_id)


def _instalment_hit(instalment: Instalment) -> Hit:
    return Hit(
        instalment.id, instalment.status, instalment.amount_minor, None, instalment.created_at, instalment.platform_id
    )


def _event_hit(event: InboundEvent) -> Hit:
    return Hit(event.id, event.status, None, None, event.received_at, event.platform_id)


async def _wallets(session: AsyncSession, found: Found[Wallet], actor: Actor, now: datetime) -> Group:
    """Wallets with their available balance, as the wallets API computes it."""
    hits = []
    for wallet in found.rows:
        view = await wallets_service.get_wallet(session, wallet_id=wallet.id, actor=actor, now=now)
        hits.append(
            Hit(
                wallet.id,
                None,
                view.available_minor,
                wallet.currency,
                wallet.created_at,
                wallet.platform_id,
                party_id=wallet.party_id,
                wallet_id=wallet.id,
            )
        )
    return Group(data=hits, more=found.more)
