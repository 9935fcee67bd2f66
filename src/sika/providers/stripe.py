"""Stripe PaymentIntents for cards (https://docs.stripe.com/api/payment_intents),
form-encoded, with our reference as the ``Idempotency-Key`` so a retried
create returns the same intent instead of charging twice.

Stripe counts XOF, XAF and GNF in whole units (zero-decimal currencies) and
EUR or USD in cents; currencies travel in lower case.

A create whose answer was lost is found by sending it again with the same key
and parameters: Stripe answers with what the first one did
(https://docs.stripe.com/api/idempotent_requests). Search is not read-after-write
(https://docs.stripe.com/search#data-freshness: a minute behind, more during an
outage), so it is only the fallback once the key may be gone, and a miss there
says nothing: the outcome stays unknown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from sika.core import clock
from sika.providers import errors, http, wire
from sika.providers.base import (
    CollectionRequest,
    CollectionResult,
    CollectionStatus,
    NextAction,
    OtpSubmission,
    PaymentMethod,
    PayoutRequest,
    PayoutResult,
    PendingStep,
    ProviderName,
    StatusLookup,
)

NAME = ProviderName.stripe

_STATUSES: dict[str, tuple[CollectionStatus, NextAction]] = {
    "succeeded": (CollectionStatus.succeeded, NextAction.none),
    "requires_action": (CollectionStatus.pending, NextAction.redirect),
    "processing": (CollectionStatus.pending, NextAction.none),
    "requires_confirmation": (CollectionStatus.pending, NextAction.none),
    "requires_capture": (CollectionStatus.pending, NextAction.none),
    "canceled": (CollectionStatus.failed, NextAction.none),
}


REPLAY_WINDOW = timedelta(hours=23)
"""How long after the first create a replay is sent: Stripe keeps a key at least 24 h,
and a replay after it was pruned would create (and charge) a second intent."""


class StripeProvider:
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, secret_key: str, timeout: httpx.Timeout) -> None:
        self._api = http.Endpoint(
            client, provider=NAME.value, base_url=base_url, secret_key=secret_key, timeout=timeout
        )

    @property
    def name(self) -> ProviderName:
        return NAME

    @property
    def forwards_return_url(self) -> bool:
        # Sent as the PaymentIntent's ``return_url``.
        return True

    async def collect(self, request: CollectionRequest) -> CollectionResult:
        created = await self._create(request)
        if created.status_code >= 400:
            raise _declined(created.body)
        return _intent_result(created.body, request.reference)

    async def _create(self, request: CollectionRequest) -> http.Answer:
        """Create and confirm the intent, keyed by our reference: the same request sent again
        answers what the first one did."""
        if request.method is not PaymentMethod.card:
            raise errors.OperationNotSupported("Stripe collects cards only", provider=NAME.value)
        if request.card_token is None:
            raise errors.ProviderDeclined(
                "A card collection needs a Stripe payment method (card_token)",
                provider=NAME.value,
                decline_code="invalid_request",
            )
        form: dict[str, str] = {
            "amount": str(wire.to_wire(NAME, request.currency, request.amount_minor)),
            "currency": request.currency.lower(),
            "payment_method": request.card_token,
            "payment_method_types[]": "card",
            "confirm": "true",
            "metadata[sika_reference]": request.reference,
        }
        if request.description:
            form["description"] = request.description
        if request.return_url:
            form["return_url"] = request.return_url
        created = await self._api.request(
            "POST",
            "/v1/payment_intents",
            mutates=True,
            reference=request.reference,
            headers={"Idempotency-Key": request.reference},
            data=form,
        )
        if created.status_code == 409 or _error(created.body).get("type") == "idempotency_error":
            # The key is held by a create still running, or was used by another: whatever
            # that one did stands, and it is not this answer to say.
            raise errors.OutcomeUnknown(
                f"Stripe: {_error(created.body).get('message', 'idempotency key conflict')}",
                provider=NAME.value,
                provider_reference=request.reference,
            )
        return created

    async def submit_otp(self, submission: OtpSubmission) -> CollectionResult:
        raise errors.OperationNotSupported(
            "Stripe card payments take no OTP; 3-D Secure is a redirect",
            provider=NAME.value,
            provider_reference=submission.provider_reference,
        )

    async def collection_status(self, lookup: StatusLookup) -> CollectionResult:
        if not lookup.provider_reference:
            if _replayable(lookup):
                assert lookup.request is not None
                return await self._replay(lookup.request)
            return await self._find(lookup.reference)
        found = await self._api.request("GET", f"/v1/payment_intents/{lookup.provider_reference}", mutates=False)
        if found.status_code == 404:
            raise errors.NotFoundAtProvider(
                _error(found.body).get("message", "No such payment_intent"),
                provider=NAME.value,
                provider_reference=lookup.provider_reference,
            )
        if found.status_code >= 400:
            raise errors.ProviderUnavailable(
                f"Stripe answered {found.status_code} to a status lookup", provider=NAME.value
            )
        return _intent_result(found.body, lookup.reference)

    async def _replay(self, request: CollectionRequest) -> CollectionResult:
        """The create sent again under its key: Stripe answers with the intent the first one
        made (declined included), or makes it now if the first never arrived."""
        replayed = await self._create(request)
        intent = _error(replayed.body).get("payment_intent")
        if replayed.status_code == 402 and isinstance(intent, dict):
            return _intent_result(intent, request.reference)
        if replayed.status_code >= 400:
            raise _declined(replayed.body)
        return _intent_result(replayed.body, request.reference)

    async def _find(self, reference: str) -> CollectionResult:
        """The intent created for ``reference``, by the metadata we stored on it. Search
        lags behind writes, so a miss is no proof that there is none."""
        searched = await self._api.request(
            "GET",
            "/v1/payment_intents/search",
            mutates=False,
            params={"query": f"metadata['sika_reference']:'{reference}'"},
        )
        if searched.status_code >= 400:
            raise errors.ProviderUnavailable(f"Stripe answered {searched.status_code} to a search", provider=NAME.value)
        found = searched.body.get("data")
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            raise errors.OutcomeUnknown(
                f"Stripe's search shows no payment intent for {reference} yet; search lags behind writes",
                provider=NAME.value,
            )
        return _intent_result(found[0], reference)

    async def collection_pending_step(self, lookup: StatusLookup) -> PendingStep:
        """A PaymentIntent's lookup carries its ``next_action`` (the 3-D Secure redirect):
        the pending step is in the status."""
        result = await self.collection_status(lookup)
        return PendingStep(
            next_action=result.next_action,
            provider_status=result.provider_status,
            display_text=result.display_text,
            redirect_url=result.redirect_url,
        )

    async def payout(self, request: PayoutRequest) -> PayoutResult:
        raise errors.OperationNotSupported("Sika pays out to mobile money, which Stripe does not", provider=NAME.value)

    async def finalize_payout(self, submission: OtpSubmission) -> PayoutResult:
        raise errors.OperationNotSupported("Sika pays out to mobile money, which Stripe does not", provider=NAME.value)

    async def payout_status(self, lookup: StatusLookup) -> PayoutResult:
        raise errors.OperationNotSupported("Sika pays out to mobile money, which Stripe does not", provider=NAME.value)


def _replayable(lookup: StatusLookup) -> bool:
    """Whether the create can be sent again under its key: while Stripe surely keeps it."""
    if lookup.request is None or lookup.request.card_token is None or lookup.requested_at is None:
        return False
    return clock.now() - lookup.requested_at < REPLAY_WINDOW


def _error(body: dict[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _declined(body: dict[str, Any]) -> errors.ProviderDeclined:
    error = _error(body)
    intent = error.get("payment_intent")
    code = error.get("decline_code") or error.get("code") or "invalid_request"
    return errors.ProviderDeclined(
        f"Stripe declined: {error.get('message', 'no message')}",
        provider=NAME.value,
        decline_code=str(code),
        provider_reference=str(intent["id"]) if isinstance(intent, dict) else None,
    )


def _intent_result(intent: dict[str, Any], reference: str) -> CollectionResult:
    provider_status = str(intent.get("status", ""))
    last_error = intent.get("last_payment_error")
    if provider_status == "requires_payment_method" and isinstance(last_error, dict):
        # Stripe returns a declined intent to this state, ready for another card.
        status, action = CollectionStatus.failed, NextAction.none
    else:
        status, action = _STATUSES.get(provider_status, (CollectionStatus.pending, NextAction.none))
    redirect_url: str | None = None
    next_action = intent.get("next_action")
    if isinstance(next_action, dict) and isinstance(next_action.get("redirect_to_url"), dict):
        redirect_url = str(next_action["redirect_to_url"]["url"])
    currency = str(intent["currency"]).upper()
    failure_reason: str | None = None
    if status is CollectionStatus.failed:
        failure_reason = (
            str(last_error.get("decline_code") or last_error.get("code") or provider_status)
            if isinstance(last_error, dict)
            else provider_status
        )
    return CollectionResult(
        provider=NAME,
        reference=reference,
        provider_reference=str(intent["id"]),
        status=status,
        next_action=action,
        amount_minor=intent_amount_minor(intent, status),
        currency=currency,
        provider_status=provider_status,
        redirect_url=redirect_url,
        failure_reason=failure_reason,
    )


def intent_amount_minor(intent: dict[str, Any], status: CollectionStatus) -> int:
    """What an intent collected once it succeeded (``amount_received``), what it asks for before.

    A success is checked against the collection with what Stripe received; its
    ``amount`` only repeats what Sika asked for, so a check against it could never fail."""
    currency = str(intent["currency"]).upper()
    wire_amount = intent.get("amount_received") if status is CollectionStatus.succeeded else intent["amount"]
    return wire.from_wire(NAME, currency, wire_amount)
