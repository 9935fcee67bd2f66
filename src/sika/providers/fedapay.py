"""FedaPay over its REST API (https://docs.fedapay.com/): a transaction is
created, a payment token is generated for it, then either the customer is sent
to the token's checkout URL (cards, and every mode FedaPay cannot send without
a redirect) or the mobile-money request is sent at once to the customer's phone
("send now", ``POST /v1/{mode}``).

Objects come wrapped by their class, ``{"v1/transaction": {...}}``; amounts in
XOF are whole francs; our reference travels as ``merchant_reference`` and in
``custom_metadata``. FedaPay states an object's currency as ``currency_id``
only, unless ``include=currency`` asks for the currency object too.
"""

from __future__ import annotations

from typing import Any

import httpx

from sika.providers import errors, http, wire
from sika.providers.base import (
    CollectionRequest,
    CollectionResult,
    CollectionStatus,
    MobileOperator,
    NextAction,
    OtpSubmission,
    PaymentMethod,
    PayoutRequest,
    PayoutResult,
    PayoutStatus,
    PendingStep,
    ProviderName,
    StatusLookup,
)

NAME = ProviderName.fedapay

MODES: dict[tuple[MobileOperator, str], str] = {
    (MobileOperator.mtn, "BJ"): "mtn_open",
    (MobileOperator.moov, "BJ"): "moov",
    (MobileOperator.mtn, "CI"): "mtn_ci",
    (MobileOperator.moov, "CI"): "moov_ci",
    (MobileOperator.orange, "CI"): "orange_ci",
    (MobileOperator.wave, "CI"): "wave_ci",
    (MobileOperator.moov, "TG"): "moov_tg",
    (MobileOperator.orange, "SN"): "orange_sn",
    (MobileOperator.wave, "SN"): "wave_sn",
}
"""FedaPay's payment ``mode`` per (operator, country)."""

SEND_NOW_MODES = frozenset({"mtn_open", "moov", "sbin", "moov_tg", "togocel", "mtn_ci", "airtel_ne", "free_sn"})
"""The modes FedaPay can send to the phone without a redirect (its payment-methods page,
"Modes de Paiement disponibles sans Redirection"); every other mode (Orange, Moov CI,
Wave) is paid on FedaPay's checkout page."""

CURRENCY_IDS: dict[int, str] = {1: "XOF"}
"""FedaPay's currency ids, for objects that carry ``currency_id`` alone (its SDKs' tests: XOF is 1)."""

INCLUDE = "currency"
"""What every call asks FedaPay to embed, so an answer names its currency rather than an id."""

_TRANSACTION_STATUSES: dict[str, CollectionStatus] = {
    "approved": CollectionStatus.succeeded,
    "transferred": CollectionStatus.succeeded,
    "declined": CollectionStatus.failed,
    "canceled": CollectionStatus.failed,
    "expired": CollectionStatus.failed,
    "refunded": CollectionStatus.failed,
}
_PAYOUT_STATUSES: dict[str, PayoutStatus] = {
    "sent": PayoutStatus.succeeded,
    "failed": PayoutStatus.failed,
}
_FAILED_INTENT_STATUSES = frozenset({"failed", "declined", "canceled"})
_ERROR_CODES: dict[str, str] = {
    "INSUFFICIENT_FUND": "insufficient_funds",
    "INSUFFICIENT_FUNDS": "insufficient_funds",
}


class FedapayProvider:
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, secret_key: str, timeout: httpx.Timeout) -> None:
        self._api = http.Endpoint(
            client, provider=NAME.value, base_url=base_url, secret_key=secret_key, timeout=timeout
        )

    @property
    def name(self) -> ProviderName:
        return NAME

    @property
    def forwards_return_url(self) -> bool:
        # Sent as the transaction's ``callback_url``.
        return True

    async def collect(self, request: CollectionRequest) -> CollectionResult:
        mode: str | None = None
        if request.method is PaymentMethod.mobile_money:
            if request.phone is None or request.operator is None or request.country is None:
                raise errors.ProviderDeclined(
                    "A mobile-money collection needs a phone number, an operator and a country",
                    provider=NAME.value,
                    decline_code="invalid_request",
                )
            mode = MODES.get((request.operator, request.country.upper()))
            if mode is None:
                raise errors.OperationNotSupported(
                    f"FedaPay has no mode for {request.operator.value} in {request.country}",
                    provider=NAME.value,
                )
        customer: dict[str, Any] = {"email": request.customer_email}
        if request.phone is not None and request.country is not None:
            customer["phone_number"] = _phone(request.phone, request.country)
        body: dict[str, Any] = {
            "description": request.description or f"Sika collection {request.reference}",
            "amount": wire.to_wire(NAME, request.currency, request.amount_minor),
            "currency": {"iso": request.currency},
            "merchant_reference": request.reference,
            "custom_metadata": {"sika_reference": request.reference},
            "customer": customer,
            "include": INCLUDE,
        }
        if request.return_url:
            body["callback_url"] = request.return_url
        created = await self._post("/v1/transactions", reference=request.reference, json=body)
        transaction = _unwrap(created.body, "v1/transaction")
        if created.status_code >= 400 or not transaction:
            raise _declined(created, reference=request.reference)
        transaction_id = str(transaction["id"])
        # Until the token exists and is used, the customer has not been asked
        # anything: a failure here leaves a pending transaction nobody will pay,
        # which is why these steps may still fail over.
        tokened = await self._post(f"/v1/transactions/{transaction_id}/token", reference=request.reference, json={})
        token = tokened.body
        if tokened.status_code >= 400:
            raise _declined(tokened, reference=transaction_id)
        if mode is None or mode not in SEND_NOW_MODES:
            return _transaction_result(
                transaction,
                request.reference,
                next_action=NextAction.redirect,
                redirect_url=str(token["url"]),
            )
        assert request.phone is not None
        assert request.country is not None
        sent = await self._post(
            f"/v1/{mode}",
            reference=request.reference,
            json={"token": token["token"], "phone_number": _phone(request.phone, request.country)},
        )
        intent = sent.body
        if sent.status_code >= 400:
            raise _declined(sent, reference=transaction_id)
        if str(intent.get("status", "")) in _FAILED_INTENT_STATUSES:
            code = str(intent.get("last_error_code") or "")
            raise errors.ProviderDeclined(
                f"FedaPay declined: {intent.get('message') or code or 'declined'}",
                provider=NAME.value,
                decline_code=_ERROR_CODES.get(code, "declined"),
                provider_reference=transaction_id,
            )
        return _transaction_result(
            transaction,
            request.reference,
            next_action=NextAction.approve_on_phone,
            display_text="Approve the payment request on your phone",
        )

    async def submit_otp(self, submission: OtpSubmission) -> CollectionResult:
        raise errors.OperationNotSupported(
            "FedaPay collections take no OTP",
            provider=NAME.value,
            provider_reference=submission.provider_reference,
        )

    async def collection_status(self, lookup: StatusLookup) -> CollectionResult:
        path = (
            f"/v1/transactions/{lookup.provider_reference}"
            if lookup.provider_reference
            else f"/v1/transactions/merchant/{lookup.reference}"
        )
        transaction = await self._found(path, "v1/transaction", provider_reference=lookup.provider_reference)
        return _transaction_result(transaction, lookup.reference, next_action=NextAction.none)

    async def collection_pending_step(self, lookup: StatusLookup) -> PendingStep:
        """A FedaPay transaction's lookup is all FedaPay tells of it: its customer
        approves on the phone or at a payment link only the creation answered, so
        nothing more is to be learned than its status."""
        result = await self.collection_status(lookup)
        return PendingStep(
            next_action=result.next_action,
            provider_status=result.provider_status,
            display_text=result.display_text,
            redirect_url=result.redirect_url,
        )

    async def payout(self, request: PayoutRequest) -> PayoutResult:
        mode = MODES.get((request.operator, request.country.upper()))
        if mode is None:
            raise errors.OperationNotSupported(
                f"FedaPay has no mode for {request.operator.value} in {request.country}",
                provider=NAME.value,
            )
        first, _, last = request.recipient_name.partition(" ")
        created = await self._post(
            "/v1/payouts",
            reference=request.reference,
            json={
                "amount": wire.to_wire(NAME, request.currency, request.amount_minor),
                "currency": {"iso": request.currency},
                "mode": mode,
                "merchant_reference": request.reference,
                "include": INCLUDE,
                "customer": {
                    "firstname": first,
                    "lastname": last or first,
                    "phone_number": _phone(request.phone, request.country),
                },
            },
        )
        payout = _unwrap(created.body, "v1/payout")
        if created.status_code >= 400 or not payout:
            raise _declined(created, reference=request.reference)
        started = await self._api.request(
            "PUT",
            "/v1/payouts/start",
            mutates=True,
            reference=request.reference,
            json={"payouts": [{"id": payout["id"]}]},
        )
        if started.status_code >= 400:
            raise _declined(started, reference=str(payout["id"]))
        listed = started.body.get("v1/payouts")
        if isinstance(listed, list) and listed and isinstance(listed[0], dict):
            payout = listed[0]
        return _payout_result(payout, request.reference)

    async def finalize_payout(self, submission: OtpSubmission) -> PayoutResult:
        raise errors.OperationNotSupported(
            "FedaPay payouts take no OTP",
            provider=NAME.value,
            provider_reference=submission.provider_reference,
        )

    async def payout_status(self, lookup: StatusLookup) -> PayoutResult:
        if not lookup.provider_reference:
            raise errors.OperationNotSupported(
                "FedaPay payouts are looked up by FedaPay's id only", provider=NAME.value
            )
        path = f"/v1/payouts/{lookup.provider_reference}"
        payout = await self._found(path, "v1/payout", provider_reference=lookup.provider_reference)
        return _payout_result(payout, lookup.reference)

    async def _post(self, path: str, *, reference: str, json: dict[str, Any]) -> http.Answer:
        """A call that may change something at FedaPay (a transaction, its token, a payout)."""
        return await self._api.request("POST", path, mutates=True, reference=reference, json=json)

    async def _found(self, path: str, klass: str, *, provider_reference: str | None) -> dict[str, Any]:
        """The object a lookup found, unwrapped from its ``klass``."""
        answer = await self._api.request("GET", path, mutates=False, params={"include": INCLUDE})
        if answer.status_code == 404:
            raise errors.NotFoundAtProvider(
                str(answer.body.get("message", "")), provider=NAME.value, provider_reference=provider_reference
            )
        found = _unwrap(answer.body, klass)
        if answer.status_code >= 400 or not found:
            raise errors.ProviderUnavailable(
                f"FedaPay answered {answer.status_code} to a status lookup", provider=NAME.value
            )
        return found


def _phone(phone: str, country: str) -> dict[str, str]:
    return {"number": phone, "country": country.lower()}


def _unwrap(payload: dict[str, Any], klass: str) -> dict[str, Any]:
    inner = payload.get(klass)
    return inner if isinstance(inner, dict) else {}


def _declined(answer: http.Answer, *, reference: str) -> errors.ProviderDeclined:
    message = str(answer.body.get("message") or f"FedaPay answered {answer.status_code}")
    return errors.ProviderDeclined(
        f"FedaPay refused: {message}",
        provider=NAME.value,
        decline_code="invalid_request",
        provider_reference=reference,
    )


def currency_of(entity: dict[str, Any]) -> str:
    """FedaPay states a currency as an object (``{"iso": "XOF"}``) when asked to include it, in
    places as its code, and otherwise only as ``currency_id`` (webhooks, answers without ``include``)."""
    currency = entity.get("currency")
    if isinstance(currency, dict) and currency.get("iso"):
        return str(currency["iso"])
    if isinstance(currency, str) and currency:
        return currency
    currency_id = entity.get("currency_id")
    known = CURRENCY_IDS.get(currency_id) if isinstance(currency_id, int) else None
    if known is None:
        raise wire.CurrencyNotSupported(
            f"FedaPay named no currency Sika knows (currency_id {currency_id!r})", provider=NAME.value
        )
    return known


def _transaction_result(
    transaction: dict[str, Any],
    reference: str,
    *,
    next_action: NextAction,
    redirect_url: str | None = None,
    display_text: str | None = None,
) -> CollectionResult:
    provider_status = str(transaction.get("status", ""))
    status = _TRANSACTION_STATUSES.get(provider_status, CollectionStatus.pending)
    currency = currency_of(transaction)
    return CollectionResult(
        provider=NAME,
        reference=reference,
        provider_reference=str(transaction["id"]),
        status=status,
        next_action=next_action if status is CollectionStatus.pending else NextAction.none,
        amount_minor=wire.from_wire(NAME, currency, transaction["amount"]),
        currency=currency,
        provider_status=provider_status,
        display_text=display_text,
        redirect_url=redirect_url,
        failure_reason=(
            str(transaction.get("last_error_code") or provider_status) if status is CollectionStatus.failed else None
        ),
    )


def _payout_result(payout: dict[str, Any], reference: str) -> PayoutResult:
    provider_status = str(payout.get("status", ""))
    status = _PAYOUT_STATUSES.get(provider_status, PayoutStatus.pending)
    currency = currency_of(payout)
    return PayoutResult(
        provider=NAME,
        reference=reference,
        provider_reference=str(payout["id"]),
        status=status,
        amount_minor=wire.from_wire(NAME, currency, payout["amount"]),
        currency=currency,
        provider_status=provider_status,
        failure_reason=(
            str(payout.get("last_error_code") or provider_status) if status is PayoutStatus.failed else None
        ),
    )
