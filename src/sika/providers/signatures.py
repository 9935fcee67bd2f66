"""Webhook signature checks, one per provider, exactly as each documents it.

- Paystack: ``x-paystack-signature`` is the hex HMAC-SHA512 of the raw body,
  keyed with the secret API key. The scheme carries no timestamp, so replays
  are caught by the unique (provider, event) key when the event is stored.
- FedaPay: ``X-FEDAPAY-SIGNATURE: t=<unix>,s=<hex>``, HMAC-SHA256 of
  ``"<t>.<raw body>"`` keyed with the webhook secret.
- Stripe: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]``, HMAC-SHA256 of
  ``"<t>.<raw body>"`` keyed with the endpoint secret; several ``v1`` appear
  while a secret is being rolled, and any one of them may match.

Digests are compared in constant time; timestamps must lie within
``WEBHOOK_TOLERANCE_SECONDS`` of ``now`` on either side. A failure raises
``WebhookSignatureInvalid`` whose ``reason`` is a stable code.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from pydantic import SecretStr

from sika.core.config import Settings
from sika.providers.base import ProviderName
from sika.providers.errors import WebhookSignatureInvalid

PAYSTACK_HEADER = "x-paystack-signature"
FEDAPAY_HEADER = "x-fedapay-signature"
STRIPE_HEADER = "stripe-signature"

HEADERS: dict[ProviderName, str] = {
    ProviderName.paystack: PAYSTACK_HEADER,
    ProviderName.fedapay: FEDAPAY_HEADER,
    ProviderName.stripe: STRIPE_HEADER,
}
"""The signature header per provider (HTTP header names are case-insensitive)."""


def verify_paystack(*, body: bytes, header: str | None, secret: str) -> None:
    provider = ProviderName.paystack.value
    if not header:
        raise WebhookSignatureInvalid(
            f"The {PAYSTACK_HEADER} header is missing", provider=provider, reason="missing_header"
        )
    expected = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
    if not hmac.compare_digest(expected, header.strip().lower()):
        raise WebhookSignatureInvalid(
            "The signature does not match the body and secret",
            provider=provider,
            reason="signature_mismatch",
        )


def verify_fedapay(*, body: bytes, header: str | None, secret: str, now: datetime, tolerance_seconds: int) -> None:
    _verify_timestamped(
        provider=ProviderName.fedapay.value,
        header_name=FEDAPAY_HEADER,
        scheme="s",
        body=body,
        header=header,
        secret=secret,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )


def verify_stripe(*, body: bytes, header: str | None, secret: str, now: datetime, tolerance_seconds: int) -> None:
    _verify_timestamped(
        provider=ProviderName.stripe.value,
        header_name=STRIPE_HEADER,
        scheme="v1",
        body=body,
        header=header,
        secret=secret,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )


def verify(
    provider: ProviderName,
    *,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    now: datetime,
) -> None:
    """Check a webhook for ``provider`` with the secrets and tolerance in ``settings``.

    ``headers`` may be any mapping; names are matched case-insensitively."""
    wanted = HEADERS[provider]
    header = next((value for name, value in headers.items() if name.lower() == wanted), None)
    if provider is ProviderName.paystack:
        verify_paystack(body=body, header=header, secret=_secret(provider, settings.PAYSTACK_SECRET_KEY))
    elif provider is ProviderName.fedapay:
        verify_fedapay(
            body=body,
            header=header,
            secret=_secret(provider, settings.FEDAPAY_WEBHOOK_SECRET),
            now=now,
            tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )
    else:
        verify_stripe(
            body=body,
            header=header,
            secret=_secret(provider, settings.STRIPE_WEBHOOK_SECRET),
            now=now,
            tolerance_seconds=settings.WEBHOOK_TOLERANCE_SECONDS,
        )


def _secret(provider: ProviderName, secret: SecretStr | None) -> str:
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        raise WebhookSignatureInvalid(
            f"No webhook secret is configured for {provider.value}",
            provider=provider.value,
            reason="secret_not_configured",
        )
    return value


def _verify_timestamped(
    *,
    provider: str,
    header_name: str,
    scheme: str,
    body: bytes,
    header: str | None,
    secret: str,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    if not header:
        raise WebhookSignatureInvalid(
            f"The {header_name} header is missing", provider=provider, reason="missing_header"
        )
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                timestamp = None
        elif key == scheme:
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise WebhookSignatureInvalid(
            f"The {header_name} header has no valid timestamp (t=)",
            provider=provider,
            reason="malformed_header",
        )
    if not signatures:
        raise WebhookSignatureInvalid(
            f"The {header_name} header has no {scheme}= signature",
            provider=provider,
            reason="no_signature_for_scheme",
        )
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # Compare against every candidate so the time taken does not say which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookSignatureInvalid(
            "The signature does not match the body, timestamp and secret",
            provider=provider,
            reason="signature_mismatch",
        )
    age_seconds = now.timestamp() - timestamp
    if abs(age_seconds) > tolerance_seconds:
        raise WebhookSignatureInvalid(
            f"The signature timestamp is {int(age_seconds)} s from now, beyond the {tolerance_seconds} s tolerance",
            provider=provider,
            reason="timestamp_outside_tolerance",
        )
