"""What can go wrong when Sika talks to a payment provider, and what the caller
may do about it.

    ProviderError
    ├── ProviderDeclined (402)         final: the provider answered and refused
    ├── ProviderUnavailable (503)      nothing happened there; another provider may be tried
    │   └── NoProviderAvailable        every provider on the route was unavailable or skipped
    ├── OutcomeUnknown (504)           it may or may not have happened; never retried
    │                                  elsewhere, settled by a status lookup (reconciliation)
    ├── NotFoundAtProvider (404)       a status lookup found no such operation there
    ├── OperationNotSupported (422)    this provider does not do this; refused before any call
    ├── NoRoute (422)                  no provider is configured for this currency and method
    ├── WireAmountNotWhole (502)       a wire amount is not a whole number of minor units
    └── WebhookSignatureInvalid (401)  a webhook's signature does not hold; ``reason`` says why

Only ``ProviderUnavailable`` lets the failover router try the next provider:
a decline would be declined again, and an unknown outcome tried elsewhere could
charge the customer twice.
"""

from __future__ import annotations

from sika.core import errors


class ProviderError(errors.SikaError):
    """The payment provider could not complete the request."""

    status = 502
    code = "provider_error"
    title = "Provider error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider: str,
        provider_reference: str | None = None,
    ) -> None:
        super().__init__(detail, provider=provider, provider_reference=provider_reference)
        self.provider = provider
        self.provider_reference = provider_reference


class ProviderDeclined(ProviderError):
    """The payment provider declined the request."""

    status = 402
    code = "provider_declined"
    title = "Declined by the provider"

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider: str,
        decline_code: str,
        provider_reference: str | None = None,
    ) -> None:
        super().__init__(detail, provider=provider, provider_reference=provider_reference)
        self.decline_code = decline_code
        """Stable snake_case reason: ``insufficient_funds``, ``invalid_otp``, ``declined``,
        ``invalid_request``…"""
        self.extra["decline_code"] = decline_code


class ProviderUnavailable(ProviderError):
    """The payment provider is unavailable: the request did not reach it, or it refused it
    without processing it."""

    status = 503
    code = "provider_unavailable"
    title = "Provider unavailable"


class NoProviderAvailable(ProviderUnavailable):
    """No payment provider is available for this collection right now."""

    code = "no_provider_available"

    def __init__(self, detail: str | None = None, *, attempts: list[tuple[str, str]]) -> None:
        super().__init__(detail, provider=attempts[-1][0] if attempts else "none")
        self.attempts = attempts
        """Each provider tried or skipped, in order, with why it was passed over."""
        self.extra["attempts"] = [f"{name}: {why}" for name, why in attempts]


class OutcomeUnknown(ProviderError):
    """The provider's answer did not arrive in time: the outcome is unknown until reconciliation."""

    status = 504
    code = "provider_outcome_unknown"
    title = "Provider outcome unknown"


class NotFoundAtProvider(ProviderError):
    """The payment provider has no record of this operation."""

    status = 404
    code = "provider_operation_not_found"
    title = "Not found at the provider"


class OperationNotSupported(ProviderError):
    """This payment provider does not support this operation."""

    status = 422
    code = "provider_operation_not_supported"
    title = "Operation not supported"


class NoRoute(ProviderError):
    """No payment provider is configured for this currency and payment method."""

    status = 422
    code = "no_provider_route"
    title = "No provider route"


class WireAmountNotWhole(ProviderError):
    """The provider sent an amount that is not a whole number of the currency's minor units."""

    code = "provider_wire_amount_not_whole"


class WebhookSignatureInvalid(ProviderError):
    """The webhook signature is invalid."""

    status = 401
    code = "webhook_signature_invalid"
    title = "Invalid webhook signature"

    def __init__(self, detail: str | None = None, *, provider: str, reason: str) -> None:
        super().__init__(detail, provider=provider)
        self.reason = reason
        """Stable snake_case reason: ``missing_header``, ``malformed_header``,
        ``no_signature_for_scheme``, ``signature_mismatch``, ``timestamp_outside_tolerance``,
        ``secret_not_configured``."""
        self.extra["reason"] = reason
