"""Adapters and the collection router built from settings.

The caller owns the ``httpx.AsyncClient`` (one per process, closed at
shutdown); every adapter shares it and passes its own explicit timeout on each
call. In development and tests the base URLs point at the sandbox
(``sika sandbox``, or the one ``sika run`` serves), wherever it listens; in
production at the providers.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from sika.core.config import Settings
from sika.providers import http
from sika.providers.base import PaymentProvider, ProviderName
from sika.providers.failover import CollectionRouter
from sika.providers.fedapay import FedapayProvider
from sika.providers.paystack import PaystackProvider
from sika.providers.stripe import StripeProvider


def build_providers(settings: Settings, client: httpx.AsyncClient) -> dict[ProviderName, PaymentProvider]:
    """Every provider whose secret key is configured."""
    timeout = http.timeout_from(settings)
    providers: dict[ProviderName, PaymentProvider] = {}
    if key := _secret(settings.PAYSTACK_SECRET_KEY):
        providers[ProviderName.paystack] = PaystackProvider(
            client, base_url=settings.PAYSTACK_BASE_URL, secret_key=key, timeout=timeout
        )
    if key := _secret(settings.FEDAPAY_SECRET_KEY):
        providers[ProviderName.fedapay] = FedapayProvider(
            client, base_url=settings.FEDAPAY_BASE_URL, secret_key=key, timeout=timeout
        )
    if key := _secret(settings.STRIPE_SECRET_KEY):
        providers[ProviderName.stripe] = StripeProvider(
            client, base_url=settings.STRIPE_BASE_URL, secret_key=key, timeout=timeout
        )
    return providers


def configured_base_urls(settings: Settings) -> dict[ProviderName, tuple[str, str]]:
    """Every configured provider's base URL, and the setting that holds it."""
    configured = {
        ProviderName.paystack: (settings.PAYSTACK_SECRET_KEY, settings.PAYSTACK_BASE_URL, "SIKA_PAYSTACK_BASE_URL"),
        ProviderName.fedapay: (settings.FEDAPAY_SECRET_KEY, settings.FEDAPAY_BASE_URL, "SIKA_FEDAPAY_BASE_URL"),
        ProviderName.stripe: (settings.STRIPE_SECRET_KEY, settings.STRIPE_BASE_URL, "SIKA_STRIPE_BASE_URL"),
    }
    return {name: (url, setting) for name, (key, url, setting) in configured.items() if _secret(key)}


def build_router(settings: Settings, client: httpx.AsyncClient) -> CollectionRouter:
    return CollectionRouter.from_settings(build_providers(settings, client), settings)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
