"""Webhook signatures as each provider makes them, computed at send time.

The sandbox's own code, independent of ``sika.providers.signatures``: the
two meet only on the wire, as with the real providers.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from sika.core.config import Settings
from sika.sandbox.wire import FEDAPAY, PAYSTACK, STRIPE


def headers(provider: str, *, body: bytes, settings: Settings, timestamp: int) -> dict[str, str]:
    if provider == PAYSTACK:
        secret = _secret(settings.PAYSTACK_SECRET_KEY)
        return {"x-paystack-signature": hmac.new(secret, body, hashlib.sha512).hexdigest()}
    if provider == FEDAPAY:
        secret = _secret(settings.FEDAPAY_WEBHOOK_SECRET)
        return {"X-FEDAPAY-SIGNATURE": f"t={timestamp},s={_timestamped(secret, body, timestamp)}"}
    if provider == STRIPE:
        secret = _secret(settings.STRIPE_WEBHOOK_SECRET)
        return {"Stripe-Signature": f"t={timestamp},v1={_timestamped(secret, body, timestamp)}"}
    raise ValueError(f"Unknown provider {provider!r}")


def _timestamped(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _secret(value: SecretStr | None) -> bytes:
    if value is None or not value.get_secret_value():
        raise ValueError("The sandbox needs the provider's secret to sign its webhooks")
    return value.get_secret_value().encode()
