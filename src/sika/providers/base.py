"""The boundary between Sika and a payment provider: one protocol, and plain
frozen dataclasses in and out.

Amounts cross this boundary in the currency's ISO minor unit (``amount_minor``),
never in a provider's wire unit: each adapter converts with ``sika.providers.wire``.
``reference`` is always Sika's own id for the operation; it is sent to the
provider as its reference or idempotency key, so a retry never pays twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class ProviderName(StrEnum):
    paystack = "paystack"
    fedapay = "fedapay"
    stripe = "stripe"


class PaymentMethod(StrEnum):
    mobile_money = "mobile_money"
    card = "card"


class MobileOperator(StrEnum):
    orange = "orange"
    mtn = "mtn"
    moov = "moov"
    wave = "wave"


class CollectionStatus(StrEnum):
    pending = "pending"
    """Waiting for the customer (OTP, approval on the phone, redirect) or for the provider."""
    succeeded = "succeeded"
    failed = "failed"


class NextAction(StrEnum):
    """What must happen before a pending collection can succeed."""

    none = "none"
    submit_otp = "submit_otp"
    """The customer reads a one-time code (Orange Money) that Sika submits with ``submit_otp``."""
    approve_on_phone = "approve_on_phone"
    """The customer approves a prompt on the phone (MTN, Moov); the outcome comes by webhook."""
    redirect = "redirect"
    """The customer completes the payment at ``redirect_url`` (Wave, 3-D Secure)."""


class PayoutStatus(StrEnum):
    pending = "pending"
    requires_otp = "requires_otp"
    """The provider wants an OTP (sent to the merchant) before it pays: ``finalize_payout``."""
    succeeded = "succeeded"
    failed = "failed"
    reversed = "reversed"
    """It succeeded, then the provider took it back."""


@dataclass(frozen=True)
class CollectionRequest:
    reference: str
    """Sika's id for this collection, sent as the provider's reference or idempotency key."""
    amount_minor: int
    currency: str
    method: PaymentMethod
    customer_email: str
    phone: str | None = None
    """E.164 (``+2250700000000``), for mobile money."""
    operator: MobileOperator | None = None
    country: str | None = None
    """ISO 3166 alpha-2 (``CI``), for mobile money."""
    card_token: str | None = None
    """A card tokenised by the provider's client library (Stripe ``pm_…``, Paystack ``AUTH_…``)."""
    description: str = ""
    return_url: str | None = None
    """Where a redirect flow sends the customer back."""

    @property
    def sends_customer_away(self) -> bool:
        """The customer leaves for the operator's page and must come back to
        ``return_url``: Wave pays by redirect, the other operators by a prompt on
        the phone, where there is nothing to come back from."""
        return self.return_url is not None and self.operator is MobileOperator.wave


@dataclass(frozen=True)
class CollectionResult:
    provider: ProviderName
    reference: str
    provider_reference: str
    """The provider's id for the charge: what status lookups and webhooks name."""
    status: CollectionStatus
    next_action: NextAction
    amount_minor: int
    """What the provider says it is charging, converted back from its wire unit."""
    currency: str
    provider_status: str
    """The provider's own status word, for logs and support."""
    display_text: str | None = None
    """What to show the customer (``Dial #144*82# …``)."""
    redirect_url: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class OtpSubmission:
    reference: str
    provider_reference: str
    otp: str


@dataclass(frozen=True)
class PayoutRequest:
    reference: str
    """Sika's id for this payout, sent as the provider's reference or idempotency key."""
    amount_minor: int
    currency: str
    phone: str
    """E.164 number of the mobile-money wallet to credit."""
    operator: MobileOperator
    country: str
    recipient_name: str
    reason: str = ""


@dataclass(frozen=True)
class PayoutResult:
    provider: ProviderName
    reference: str
    provider_reference: str
    status: PayoutStatus
    amount_minor: int
    currency: str
    provider_status: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class StatusLookup:
    reference: str
    """Sika's id for the operation."""
    provider_reference: str | None = None
    """The provider's id, when its answer arrived; without it the lookup goes by ``reference``
    (after an ``OutcomeUnknown`` the provider's id was never heard)."""
    request: CollectionRequest | None = None
    """The create as it was sent, for a provider whose lookup by ``reference`` is not
    read-after-write (Stripe's Search): it finds a lost create by replaying it."""
    requested_at: datetime | None = None
    """When the create was first sent: a replay is safe only while the provider keeps its key."""


@dataclass(frozen=True)
class PendingStep:
    """What a pending collection waits for from the customer, as the provider tells it now."""

    next_action: NextAction
    """``none`` when it waits for nothing the customer can do (or is no longer pending)."""
    provider_status: str
    display_text: str | None = None
    redirect_url: str | None = None


class PaymentProvider(Protocol):
    """One payment provider. Every call may raise ``ProviderDeclined``,
    ``ProviderUnavailable`` or ``OutcomeUnknown`` (``sika.providers.errors``);
    status lookups never raise ``ProviderDeclined`` and report ``failed`` instead."""

    @property
    def name(self) -> ProviderName: ...

    @property
    def forwards_return_url(self) -> bool:
        """Whether a collection's ``return_url`` reaches the provider, so a customer
        sent away to pay is sent back to it."""
        ...

    async def collect(self, request: CollectionRequest) -> CollectionResult:
        """Start a collection. A final refusal raises ``ProviderDeclined``."""
        ...

    async def submit_otp(self, submission: OtpSubmission) -> CollectionResult:
        """Complete a collection whose ``next_action`` was ``submit_otp``."""
        ...

    async def collection_status(self, lookup: StatusLookup) -> CollectionResult: ...

    async def collection_pending_step(self, lookup: StatusLookup) -> PendingStep:
        """The step a pending collection waits for (an OTP, an approval, a redirect):
        what a crash before the answer to ``collect`` was recorded lost."""
        ...

    async def payout(self, request: PayoutRequest) -> PayoutResult: ...

    async def finalize_payout(self, submission: OtpSubmission) -> PayoutResult:
        """Complete a payout whose status was ``requires_otp``."""
        ...

    async def payout_status(self, lookup: StatusLookup) -> PayoutResult: ...
