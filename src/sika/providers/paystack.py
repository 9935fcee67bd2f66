"""Paystack over its REST API (https://paystack.com/docs/api/): charges by
mobile money or a saved card authorisation, OTP submission, transfers to
mobile-money wallets (with Paystack's optional OTP step).

Every body is ``{"status": bool, "message": str, "data": {...}}``; amounts are
in hundredths of the currency (XOF included, see ``sika.providers.wire``); our
reference is Paystack's ``reference``, so a repeated call is refused by Paystack
as a duplicate and answered here from where that first charge stands.
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

NAME = ProviderName.paystack

OPERATOR_CODES: dict[MobileOperator, str] = {
    MobileOperator.orange: "orange",
    MobileOperator.mtn: "mtn",
    MobileOperator.moov: "moov",
    MobileOperator.wave: "wave",
}
"""Paystack's ``mobile_money.provider`` (and transfer ``bank_code``) per operator."""

_PENDING_CHARGE_ACTIONS: dict[str, NextAction] = {
    "send_otp": NextAction.submit_otp,
    "pay_offline": NextAction.approve_on_phone,
    "open_url": NextAction.redirect,
}
_FAILED_TRANSACTION_STATUSES = frozenset({"failed", "abandoned", "reversed"})
_TRANSFER_STATUSES: dict[str, PayoutStatus] = {
    "success": PayoutStatus.succeeded,
    "failed": PayoutStatus.failed,
    "reversed": PayoutStatus.reversed,
    "otp": PayoutStatus.requires_otp,
}


class PaystackProvider:
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, secret_key: str, timeout: httpx.Timeout) -> None:
        self._api = http.Endpoint(
            client, provider=NAME.value, base_url=base_url, secret_key=secret_key, timeout=timeout
        )

    @property
    def name(self) -> ProviderName:
        return NAME

    @property
    def forwards_return_url(self) -> bool:
        # Paystack's Charge API takes no per-charge return URL.
        return False

    async def collect(self, request: CollectionRequest) -> CollectionResult:
        body: dict[str, Any] = {
            "email": request.customer_email,
            "amount": wire.to_wire(NAME, request.currency, request.amount_minor),
            "currency": request.currency,
            "reference": request.reference,
            "metadata": {"sika_reference": request.reference},
        }
        if request.method is PaymentMethod.mobile_money:
            if request.phone is None or request.operator is None:
                raise errors.ProviderDeclined(
                    "A mobile-money charge needs a phone number and an operator",
                    provider=NAME.value,
                    decline_code="invalid_request",
                )
            body["mobile_money"] = {
                "phone": request.phone,
                "provider": OPERATOR_CODES[request.operator],
            }
        elif request.card_token is not None:
            body["authorization_code"] = request.card_token
        else:
            raise errors.ProviderDeclined(
                "A card charge on Paystack needs a card authorisation (card_token)",
                provider=NAME.value,
                decline_code="invalid_request",
            )
        payload = await self._post("/charge", reference=request.reference, json=body)
        if not payload.get("status"):
            message = str(payload.get("message", ""))
            if "duplicate" in message.lower():
                return await self._existing_charge(request)
            raise _declined(message, reference=request.reference)
        return self._charge_result(payload, request.reference, request.currency, request.amount_minor)

    async def _existing_charge(self, request: CollectionRequest) -> CollectionResult:
        """Where the charge already made under this reference stands, next step included
        (``GET /charge/{reference}`` answers a pending charge as ``/charge`` did)."""
        payload = await self._found(f"/charge/{request.reference}", reference=request.reference)
        return self._charge_result(payload, request.reference, request.currency, request.amount_minor)

    async def submit_otp(self, submission: OtpSubmission) -> CollectionResult:
        payload = await self._post(
            "/charge/submit_otp",
            reference=submission.reference,
            json={"otp": submission.otp, "reference": submission.provider_reference},
        )
        if not payload.get("status"):
            raise _declined(str(payload.get("message", "")), reference=submission.provider_reference)
        data = _data(payload)
        currency = str(data.get("currency") or "")
        if not currency:
            # Paystack answers some OTP steps with only reference and status.
            return await self.collection_status(
                StatusLookup(reference=submission.reference, provider_reference=submission.provider_reference)
            )
        return self._charge_result(payload, submission.reference, currency, None)

    async def collection_status(self, lookup: StatusLookup) -> CollectionResult:
        # Paystack's reference is ours, so a lookup needs nothing Paystack said.
        paystack_reference = lookup.provider_reference or lookup.reference
        data = _data(await self._found(f"/transaction/verify/{paystack_reference}", reference=paystack_reference))
        provider_status = str(data.get("status", ""))
        currency = str(data["currency"])
        if provider_status == "success":
            status = CollectionStatus.succeeded
        elif provider_status in _FAILED_TRANSACTION_STATUSES:
            status = CollectionStatus.failed
        else:
            status = CollectionStatus.pending
        return CollectionResult(
            provider=NAME,
            reference=lookup.reference,
            provider_reference=str(data.get("reference", paystack_reference)),
            status=status,
            next_action=NextAction.none,
            amount_minor=wire.from_wire(NAME, currency, data["amount"]),
            currency=currency,
            provider_status=provider_status,
            failure_reason=str(data.get("gateway_response")) if status is CollectionStatus.failed else None,
        )

    async def collection_pending_step(self, lookup: StatusLookup) -> PendingStep:
        """Paystack's "check pending charge" (``GET /charge/{reference}``) answers a
        pending charge as ``/charge`` did: its step (``send_otp``, ``pay_offline``,
        ``open_url``) and ``display_text``; a settled one as a transaction."""
        paystack_reference = lookup.provider_reference or lookup.reference
        data = _data(await self._found(f"/charge/{paystack_reference}", reference=paystack_reference))
        provider_status = str(data.get("status", ""))
        redirect_url = _optional_str(data.get("url"))
        action = _PENDING_CHARGE_ACTIONS.get(provider_status, NextAction.none)
        if redirect_url and provider_status not in ("success", "failed"):
            action = NextAction.redirect
        return PendingStep(
            next_action=action,
            provider_status=provider_status,
            display_text=_optional_str(data.get("display_text")) if action is not NextAction.none else None,
            redirect_url=redirect_url if action is NextAction.redirect else None,
        )

    async def payout(self, request: PayoutRequest) -> PayoutResult:
        amount = wire.to_wire(NAME, request.currency, request.amount_minor)
        recipient_payload = await self._post(
            "/transferrecipient",
            reference=request.reference,
            json={
                "type": "mobile_money",
                "name": request.recipient_name,
                "account_number": request.phone,
                "bank_code": OPERATOR_CODES[request.operator],
                "currency": request.currency,
            },
        )
        if not recipient_payload.get("status"):
            raise _declined(str(recipient_payload.get("message", "")), reference=request.reference)
        recipient_code = str(_data(recipient_payload)["recipient_code"])
        payload = await self._post(
            "/transfer",
            reference=request.reference,
            json={
                "source": "balance",
                "amount": amount,
                "currency": request.currency,
                "recipient": recipient_code,
                "reason": request.reason,
                "reference": request.reference,
            },
        )
        if not payload.get("status"):
            message = str(payload.get("message", ""))
            if "reference" in message.lower() and "exist" in message.lower():
                return await self.payout_status(
                    StatusLookup(reference=request.reference, provider_reference=request.reference)
                )
            raise _declined(message, reference=request.reference)
        return _transfer_result(_data(payload), request.reference)

    async def finalize_payout(self, submission: OtpSubmission) -> PayoutResult:
        payload = await self._post(
            "/transfer/finalize_transfer",
            reference=submission.reference,
            json={"transfer_code": submission.provider_reference, "otp": submission.otp},
        )
        if not payload.get("status"):
            raise _declined(str(payload.get("message", "")), reference=submission.provider_reference)
        return _transfer_result(_data(payload), submission.reference)

    async def payout_status(self, lookup: StatusLookup) -> PayoutResult:
        payload = await self._found(f"/transfer/verify/{lookup.reference}", reference=lookup.reference)
        return _transfer_result(_data(payload), lookup.reference)

    async def _post(self, path: str, *, reference: str, json: dict[str, Any]) -> dict[str, Any]:
        """A call that may change something at Paystack (charge, OTP, transfer)."""
        return (await self._api.request("POST", path, mutates=True, reference=reference, json=json)).body

    async def _found(self, path: str, *, reference: str) -> dict[str, Any]:
        """A lookup's answer; Paystack answers ``status: false`` about what it does not know."""
        payload = (await self._api.request("GET", path, mutates=False)).body
        if not payload.get("status"):
            raise errors.NotFoundAtProvider(
                str(payload.get("message", "")), provider=NAME.value, provider_reference=reference
            )
        return payload

    def _charge_result(
        self, payload: dict[str, Any], reference: str, currency: str, asked_minor: int | None
    ) -> CollectionResult:
        data = _data(payload)
        provider_status = str(data.get("status", ""))
        provider_reference = str(data.get("reference", reference))
        if provider_status == "failed":
            raise _declined(
                str(data.get("gateway_response") or data.get("message") or payload.get("message", "")),
                reference=provider_reference,
            )
        redirect_url = data.get("url")
        if provider_status == "success":
            status, action = CollectionStatus.succeeded, NextAction.none
        else:
            status = CollectionStatus.pending
            action = _PENDING_CHARGE_ACTIONS.get(provider_status, NextAction.none)
            if redirect_url:
                action = NextAction.redirect
        if "amount" in data:
            amount_minor = wire.from_wire(NAME, currency, data["amount"])
        elif asked_minor is not None:
            # Paystack's intermediate answers (send_otp, pay_offline) carry no amount.
            amount_minor = asked_minor
        else:
            raise errors.OutcomeUnknown(
                "Paystack answered without an amount",
                provider=NAME.value,
                provider_reference=provider_reference,
            )
        return CollectionResult(
            provider=NAME,
            reference=reference,
            provider_reference=provider_reference,
            status=status,
            next_action=action,
            amount_minor=amount_minor,
            currency=currency,
            provider_status=provider_status,
            display_text=_optional_str(data.get("display_text")),
            redirect_url=_optional_str(redirect_url),
        )


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    return data if isinstance(data, dict) else {}


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _declined(message: str, *, reference: str) -> errors.ProviderDeclined:
    return errors.ProviderDeclined(
        f"Paystack declined: {message}" if message else "Paystack declined",
        provider=NAME.value,
        decline_code=decline_code(message),
        provider_reference=reference,
    )


def decline_code(message: str) -> str:
    """A stable code for Paystack's free-text refusal."""
    lowered = message.lower()
    if "insufficient" in lowered or "not enough" in lowered:
        return "insufficient_funds"
    if "otp" in lowered:
        return "invalid_otp"
    if "declined" in lowered or "failed" in lowered:
        return "declined"
    return "invalid_request"


def _transfer_result(data: dict[str, Any], reference: str) -> PayoutResult:
    provider_status = str(data.get("status", ""))
    currency = str(data["currency"])
    status = _TRANSFER_STATUSES.get(provider_status, PayoutStatus.pending)
    return PayoutResult(
        provider=NAME,
        reference=reference,
        provider_reference=str(data.get("transfer_code", "")),
        status=status,
        amount_minor=wire.from_wire(NAME, currency, data["amount"]),
        currency=currency,
        provider_status=provider_status,
        # ``reason`` is our own narration; Paystack says why a transfer failed in ``failures``.
        failure_reason=(str(data.get("failures") or "transfer failed") if status is PayoutStatus.failed else None),
    )
