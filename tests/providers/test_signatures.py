"""Headers built here exactly as each provider documents them, independently
of the code under test; then the webhooks the sandbox really sends."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from sika.core import clock
from sika.providers import signatures
from sika.providers.base import MobileOperator, PaymentProvider, ProviderName
from sika.providers.errors import WebhookSignatureInvalid
from tests.providers import builders
from tests.support.sandbox import (
    FEDAPAY_WEBHOOK_SECRET,
    PAYSTACK_SECRET,
    STRIPE_WEBHOOK_SECRET,
    LiveSandbox,
    sandbox_settings,
)

Verify = Callable[..., None]
MakeHeader = Callable[[bytes, str, datetime], str]

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TOLERANCE_SECONDS = 300
BODY = json.dumps({"event": "charge.success", "data": {"reference": "col_1", "amount": 500000}}).encode()


def paystack_header(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def timestamped(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def fedapay_header(body: bytes, secret: str, at: datetime) -> str:
    t = int(at.timestamp())
    return f"t={t},s={timestamped(body, secret, t)}"


def stripe_header(body: bytes, secret: str, at: datetime) -> str:
    t = int(at.timestamp())
    return f"t={t},v1={timestamped(body, secret, t)}"


def reason(call: pytest.ExceptionInfo[WebhookSignatureInvalid]) -> str:
    return call.value.reason


class TestPaystackSignature:
    def test_accepts_the_hmac_sha512_of_the_raw_body(self) -> None:
        signatures.verify_paystack(body=BODY, header=paystack_header(BODY, PAYSTACK_SECRET), secret=PAYSTACK_SECRET)

    def test_refuses_a_tampered_body(self) -> None:
        header = paystack_header(BODY, PAYSTACK_SECRET)
        with pytest.raises(WebhookSignatureInvalid) as refused:
            signatures.verify_paystack(body=BODY.replace(b"500000", b"900000"), header=header, secret=PAYSTACK_SECRET)
        assert reason(refused) == "signature_mismatch"

    def test_refuses_a_wrong_secret(self) -> None:
        with pytest.raises(WebhookSignatureInvalid) as refused:
            signatures.verify_paystack(body=BODY, header=paystack_header(BODY, "sk_test_other"), secret=PAYSTACK_SECRET)
        assert reason(refused) == "signature_mismatch"

    def test_refuses_a_missing_header(self) -> None:
        with pytest.raises(WebhookSignatureInvalid) as refused:
            signatures.verify_paystack(body=BODY, header=None, secret=PAYSTACK_SECRET)
        assert reason(refused) == "missing_header"


@pytest.mark.parametrize(
    ("verify", "make_header", "secret"),
    [
        (signatures.verify_fedapay, fedapay_header, FEDAPAY_WEBHOOK_SECRET),
        (signatures.verify_stripe, stripe_header, STRIPE_WEBHOOK_SECRET),
    ],
    ids=["fedapay", "stripe"],
)
class TestTimestampedSignature:
    def test_accepts_the_documented_header(self, verify: Verify, make_header: MakeHeader, secret: str) -> None:
        verify(
            body=BODY,
            header=make_header(BODY, secret, NOW),
            secret=secret,
            now=NOW,
            tolerance_seconds=TOLERANCE_SECONDS,
        )

    def test_accepts_a_timestamp_just_within_the_tolerance(
        self, verify: Verify, make_header: MakeHeader, secret: str
    ) -> None:
        signed_at = NOW - timedelta(seconds=TOLERANCE_SECONDS)
        verify(
            body=BODY,
            header=make_header(BODY, secret, signed_at),
            secret=secret,
            now=NOW,
            tolerance_seconds=TOLERANCE_SECONDS,
        )

    def test_refuses_a_tampered_body(self, verify: Verify, make_header: MakeHeader, secret: str) -> None:
        with pytest.raises(WebhookSignatureInvalid) as refused:
            verify(
                body=BODY + b" ",
                header=make_header(BODY, secret, NOW),
                secret=secret,
                now=NOW,
                tolerance_seconds=TOLERANCE_SECONDS,
            )
        assert reason(refused) == "signature_mismatch"

    def test_refuses_a_wrong_secret(self, verify: Verify, make_header: MakeHeader, secret: str) -> None:
        with pytest.raises(WebhookSignatureInvalid) as refused:
            verify(
                body=BODY,
                header=make_header(BODY, "another-secret", NOW),
                secret=secret,
                now=NOW,
                tolerance_seconds=TOLERANCE_SECONDS,
            )
        assert reason(refused) == "signature_mismatch"

    @pytest.mark.parametrize("offset_seconds", [-(TOLERANCE_SECONDS + 1), TOLERANCE_SECONDS + 1])
    def test_refuses_a_timestamp_beyond_the_tolerance_either_side(
        self, verify: Verify, make_header: MakeHeader, secret: str, offset_seconds: int
    ) -> None:
        signed_at = NOW + timedelta(seconds=offset_seconds)
        with pytest.raises(WebhookSignatureInvalid) as refused:
            verify(
                body=BODY,
                header=make_header(BODY, secret, signed_at),
                secret=secret,
                now=NOW,
                tolerance_seconds=TOLERANCE_SECONDS,
            )
        assert reason(refused) == "timestamp_outside_tolerance"

    def test_refuses_a_replayed_signature_under_a_fresh_timestamp(
        self, verify: Verify, make_header: MakeHeader, secret: str
    ) -> None:
        old = make_header(BODY, secret, NOW - timedelta(hours=1))
        signature = old.split(",", 1)[1]
        with pytest.raises(WebhookSignatureInvalid) as refused:
            verify(
                body=BODY,
                header=f"t={int(NOW.timestamp())},{signature}",
                secret=secret,
                now=NOW,
                tolerance_seconds=TOLERANCE_SECONDS,
            )
        assert reason(refused) == "signature_mismatch"

    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, "missing_header"),
            ("", "missing_header"),
            ("s=abc,v1=abc", "malformed_header"),
            ("t=notanumber,s=abc,v1=abc", "malformed_header"),
            ("t=1", "no_signature_for_scheme"),
        ],
    )
    def test_refuses_a_header_it_cannot_read(
        self, verify: Verify, make_header: MakeHeader, secret: str, header: str | None, expected: str
    ) -> None:
        with pytest.raises(WebhookSignatureInvalid) as refused:
            verify(body=BODY, header=header, secret=secret, now=NOW, tolerance_seconds=TOLERANCE_SECONDS)
        assert reason(refused) == expected


class TestStripeSecretRolling:
    def test_accepts_any_of_several_v1_signatures(self) -> None:
        t = int(NOW.timestamp())
        header = (
            f"t={t},v1={timestamped(BODY, 'whsec_old', t)},v1={timestamped(BODY, STRIPE_WEBHOOK_SECRET, t)},v0=ignored"
        )
        signatures.verify_stripe(
            body=BODY, header=header, secret=STRIPE_WEBHOOK_SECRET, now=NOW, tolerance_seconds=TOLERANCE_SECONDS
        )

    def test_a_fedapay_style_s_signature_is_not_a_stripe_signature(self) -> None:
        header = fedapay_header(BODY, STRIPE_WEBHOOK_SECRET, NOW)
        with pytest.raises(WebhookSignatureInvalid) as refused:
            signatures.verify_stripe(
                body=BODY, header=header, secret=STRIPE_WEBHOOK_SECRET, now=NOW, tolerance_seconds=TOLERANCE_SECONDS
            )
        assert reason(refused) == "no_signature_for_scheme"


class TestVerifyWithSettings:
    def test_matches_header_names_in_any_case_and_uses_the_configured_secrets(self) -> None:
        settings = sandbox_settings()
        signatures.verify(
            ProviderName.paystack,
            body=BODY,
            settings=settings,
            now=NOW,
            headers={"X-Paystack-Signature": paystack_header(BODY, PAYSTACK_SECRET)},
        )
        signatures.verify(
            ProviderName.fedapay,
            body=BODY,
            settings=settings,
            now=NOW,
            headers={"X-FEDAPAY-SIGNATURE": fedapay_header(BODY, FEDAPAY_WEBHOOK_SECRET, NOW)},
        )
        signatures.verify(
            ProviderName.stripe,
            body=BODY,
            settings=settings,
            now=NOW,
            headers={"stripe-signature": stripe_header(BODY, STRIPE_WEBHOOK_SECRET, NOW)},
        )

    def test_uses_the_tolerance_from_settings(self) -> None:
        settings = sandbox_settings(WEBHOOK_TOLERANCE_SECONDS=10)
        header = stripe_header(BODY, STRIPE_WEBHOOK_SECRET, NOW - timedelta(seconds=11))
        with pytest.raises(WebhookSignatureInvalid) as refused:
            signatures.verify(
                ProviderName.stripe, body=BODY, settings=settings, now=NOW, headers={"Stripe-Signature": header}
            )
        assert reason(refused) == "timestamp_outside_tolerance"

    def test_refuses_when_no_secret_is_configured(self) -> None:
        settings = sandbox_settings(STRIPE_WEBHOOK_SECRET=SecretStr(""))
        with pytest.raises(WebhookSignatureInvalid) as refused:
            signatures.verify(
                ProviderName.stripe,
                body=BODY,
                settings=settings,
                now=NOW,
                headers={"Stripe-Signature": stripe_header(BODY, "", NOW)},
            )
        assert reason(refused) == "secret_not_configured"


class TestWebhooksFromTheSandbox:
    async def test_a_resend_tampered_after_signing_is_refused_while_the_original_passes(
        self, sandbox: LiveSandbox, providers: dict[ProviderName, PaymentProvider]
    ) -> None:
        for provider in (ProviderName.paystack, ProviderName.fedapay):
            await providers[provider].collect(builders.mobile_money(operator=MobileOperator.mtn))
        await providers[ProviderName.stripe].collect(builders.card("pm_card_visa"))
        originals = await sandbox.receiver.wait_for(3)
        async with sandbox.admin() as admin:
            deliveries = (await admin.get("/webhooks")).json()
            for delivery in deliveries:
                resent = await admin.post(f"/webhooks/{delivery['id']}/resend", json={"tamper_amount": True})
                assert resent.json()["tampered"] is True
        received = await sandbox.receiver.wait_for(6)
        assert {r.path for r in originals} == {"/hooks/paystack", "/hooks/fedapay", "/hooks/stripe"}
        for webhook in received[:3]:
            provider = ProviderName(webhook.path.rsplit("/", 1)[1])
            signatures.verify(
                provider, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
            )
        for webhook in received[3:]:
            provider = ProviderName(webhook.path.rsplit("/", 1)[1])
            with pytest.raises(WebhookSignatureInvalid) as refused:
                signatures.verify(
                    provider, body=webhook.body, headers=webhook.headers, settings=sandbox.settings, now=clock.now()
                )
            assert reason(refused) == "signature_mismatch"
