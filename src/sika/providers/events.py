"""What a provider's webhook says, in Sika's words.

Each provider names its events and lays out its payloads its own way; this
module reads a verified raw body into one frozen ``ProviderEvent``: which
operation it is about (Sika's own ``reference``, which every adapter sends to
the provider), the status it reports, and the amount in ISO minor units
(converted with ``sika.providers.wire``, never trusted in the wire unit).

- Paystack: ``charge.success`` for collections; ``transfer.success``,
  ``transfer.failed``, ``transfer.reversed`` for payouts. Paystack events carry
  no id, so the id is derived from the event name and the object's id.
- FedaPay: ``transaction.approved|declined|canceled|…`` and
  ``payout.sent|failed``; our reference is the object's ``merchant_reference``.
- Stripe: ``payment_intent.succeeded|payment_failed|…``; our reference is the
  intent's ``metadata.sika_reference``.

An event Sika has no use for parses with ``subject`` ``None``; a body that is
not what the provider sends raises ``MalformedEvent``, and so does one whose
id, type, reference, provider reference or currency holds text PostgreSQL
cannot store (``sika.core.text``): those are matched exactly, so such an event
cannot be about anything of Sika's. A failure reason is the provider's prose,
and is kept with those characters replaced.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sika.core import text
from sika.providers import errors, fedapay, stripe, wire
from sika.providers.base import CollectionStatus, PayoutStatus, ProviderName

MAX_EVENT_ID_LENGTH = 200


class EventSubject(StrEnum):
    collection = "collection"
    payout = "payout"


class MalformedEvent(errors.ProviderError):
    """The webhook body is not an event this provider sends."""

    status = 400
    code = "webhook_malformed"
    title = "Malformed webhook"


@dataclass(frozen=True)
class ProviderEvent:
    provider: ProviderName
    event_id: str
    """The provider's id for the event, or one derived from its content: the same
    event delivered twice has the same id."""
    event_type: str
    """The provider's own name for it (``charge.success``)."""
    subject: EventSubject | None
    """What it is about; ``None`` for an event Sika does not act on."""
    reference: str | None = None
    """Sika's id for the collection or payout."""
    provider_reference: str | None = None
    collection_status: CollectionStatus | None = None
    payout_status: PayoutStatus | None = None
    amount_minor: int | None = None
    currency: str | None = None
    failure_reason: str | None = None


def parse(provider: ProviderName, body: bytes) -> ProviderEvent:
    try:
        payload = json.loads(body)
    except ValueError:
        raise MalformedEvent("The webhook body is not JSON", provider=provider.value) from None
    if not isinstance(payload, dict):
        raise MalformedEvent("The webhook body is not a JSON object", provider=provider.value)
    try:
        if provider is ProviderName.paystack:
            event = _paystack(payload, body)
        elif provider is ProviderName.fedapay:
            event = _fedapay(payload, body)
        else:
            event = _stripe(payload, body)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(
            f"The {provider.value} webhook lacks what its event type needs ({type(exc).__name__}: {exc})",
            provider=provider.value,
        ) from None
    return _storable(event)


_EXACT_FIELDS = ("event_id", "event_type", "reference", "provider_reference", "currency")


def _storable(event: ProviderEvent) -> ProviderEvent:
    for name in _EXACT_FIELDS:
        value = getattr(event, name)
        if value is not None and (problem := text.problem(value)):
            provider = event.provider.value
            raise MalformedEvent(f"The {provider} webhook's {name}: {problem}", provider=provider)
    if event.failure_reason is None:
        return event
    return replace(event, failure_reason=text.storable(event.failure_reason))


_PAYSTACK_TRANSFERS: dict[str, PayoutStatus] = {
    "transfer.success": PayoutStatus.succeeded,
    "transfer.failed": PayoutStatus.failed,
    "transfer.reversed": PayoutStatus.reversed,
}


def _paystack(payload: dict[str, Any], body: bytes) -> ProviderEvent:
    name = ProviderName.paystack
    event_type = str(payload["event"])
    data = _object(payload.get("data"))
    object_id = data.get("id")
    event_id = f"{event_type}:{object_id}" if object_id is not None else digest(body)
    if event_type == "charge.success":
        currency = str(data["currency"])
        return ProviderEvent(
            provider=name,
            event_id=_bounded(event_id, body),
            event_type=event_type,
            subject=EventSubject.collection,
            reference=str(data["reference"]),
            provider_reference=str(data["reference"]),
            collection_status=CollectionStatus.succeeded,
            amount_minor=wire.from_wire(name, currency, data["amount"]),
            currency=currency,
        )
    if event_type in _PAYSTACK_TRANSFERS:
        currency = str(data["currency"])
        status = _PAYSTACK_TRANSFERS[event_type]
        return ProviderEvent(
            provider=name,
            event_id=_bounded(event_id, body),
            event_type=event_type,
            subject=EventSubject.payout,
            reference=str(data["reference"]),
            provider_reference=_optional(data.get("transfer_code")),
            payout_status=status,
            amount_minor=wire.from_wire(name, currency, data["amount"]),
            currency=currency,
            failure_reason=_optional(data.get("failures")) if status is PayoutStatus.failed else None,
        )
    return ProviderEvent(provider=name, event_id=_bounded(event_id, body), event_type=event_type, subject=None)


_FEDAPAY_TRANSACTIONS: dict[str, CollectionStatus] = {
    "transaction.created": CollectionStatus.pending,
    "transaction.pending": CollectionStatus.pending,
    "transaction.approved": CollectionStatus.succeeded,
    "transaction.transferred": CollectionStatus.succeeded,
    "transaction.declined": CollectionStatus.failed,
    "transaction.canceled": CollectionStatus.failed,
    "transaction.expired": CollectionStatus.failed,
}
_FEDAPAY_PAYOUTS: dict[str, PayoutStatus] = {
    "payout.started": PayoutStatus.pending,
    "payout.sent": PayoutStatus.succeeded,
    "payout.failed": PayoutStatus.failed,
}


def _fedapay(payload: dict[str, Any], body: bytes) -> ProviderEvent:
    name = ProviderName.fedapay
    event_type = str(payload["name"])
    event_id = str(payload["id"]) if payload.get("id") is not None else digest(body)
    entity = _object(payload.get("entity"))
    if event_type in _FEDAPAY_TRANSACTIONS or event_type in _FEDAPAY_PAYOUTS:
        currency = fedapay.currency_of(entity)
        reference = _optional(entity.get("merchant_reference"))
        amount_minor = wire.from_wire(name, currency, entity["amount"])
        collection_status = _FEDAPAY_TRANSACTIONS.get(event_type)
        payout_status = _FEDAPAY_PAYOUTS.get(event_type)
        failed = collection_status is CollectionStatus.failed or payout_status is PayoutStatus.failed
        return ProviderEvent(
            provider=name,
            event_id=_bounded(event_id, body),
            event_type=event_type,
            subject=EventSubject.collection if collection_status is not None else EventSubject.payout,
            reference=reference,
            provider_reference=str(entity["id"]),
            collection_status=collection_status,
            payout_status=payout_status,
            amount_minor=amount_minor,
            currency=currency,
            failure_reason=(_optional(entity.get("last_error_code")) or event_type) if failed else None,
        )
    return ProviderEvent(provider=name, event_id=_bounded(event_id, body), event_type=event_type, subject=None)


_STRIPE_INTENTS: dict[str, CollectionStatus] = {
    "payment_intent.created": CollectionStatus.pending,
    "payment_intent.processing": CollectionStatus.pending,
    "payment_intent.requires_action": CollectionStatus.pending,
    "payment_intent.succeeded": CollectionStatus.succeeded,
    "payment_intent.payment_failed": CollectionStatus.failed,
    "payment_intent.canceled": CollectionStatus.failed,
}


def _stripe(payload: dict[str, Any], body: bytes) -> ProviderEvent:
    name = ProviderName.stripe
    event_type = str(payload["type"])
    event_id = str(payload["id"]) if payload.get("id") is not None else digest(body)
    if event_type not in _STRIPE_INTENTS:
        return ProviderEvent(provider=name, event_id=_bounded(event_id, body), event_type=event_type, subject=None)
    intent = _object(_object(payload.get("data")).get("object"))
    status = _STRIPE_INTENTS[event_type]
    currency = str(intent["currency"]).upper()
    metadata = _optional_object(intent.get("metadata"))
    last_error = _optional_object(intent.get("last_payment_error"))
    return ProviderEvent(
        provider=name,
        event_id=_bounded(event_id, body),
        event_type=event_type,
        subject=EventSubject.collection,
        reference=_optional(metadata.get("sika_reference")),
        provider_reference=str(intent["id"]),
        collection_status=status,
        amount_minor=stripe.intent_amount_minor(intent, status),
        currency=currency,
        failure_reason=(
            str(last_error.get("decline_code") or last_error.get("code") or event_type)
            if status is CollectionStatus.failed
            else None
        ),
    )


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    return value


def _optional_object(value: object) -> dict[str, Any]:
    """A JSON object the provider may send as null."""
    return value if isinstance(value, dict) else {}


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _bounded(event_id: str, body: bytes) -> str:
    """A provider id too long to store is replaced by the body's digest."""
    return event_id if 1 <= len(event_id) <= MAX_EVENT_ID_LENGTH else digest(body)
