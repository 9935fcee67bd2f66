"""The one redaction every noted provider call goes through (``sika.providers.calls.redact``):
credentials, card data, signatures, authorization codes, OTPs, PINs and phone numbers are
replaced wherever they sit in a request or an answer, and what support needs (statuses,
references, amounts, messages) is kept. The shapes are the providers' published ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sika.providers import calls
from sika.providers.calls import REDACTED

PAYSTACK_CHARGE_SUCCESS: dict[str, Any] = {
    "status": True,
    "message": "Charge attempted",
    "data": {
        "id": 4099260516,
        "amount": 500000,
        "currency": "XOF",
        "status": "success",
        "reference": "col_2brlmd7rgnvbgytpla2zycj6ey",
        "gateway_response": "Approved",
        "authorization": {
            "authorization_code": "AUTH_pmx3mgawyd",
            "bin": "408408",
            "last4": "4081",
            "exp_month": "12",
            "exp_year": "2030",
            "signature": "SIG_idyuhgd87dUYSHO92D",
            "reusable": True,
        },
        "customer": {"email": "kofi@example.ci", "phone": "+2250700000101", "customer_code": "CUS_xnxdt6s1zg1f4nx"},
    },
}
STRIPE_PAYMENT_INTENT: dict[str, Any] = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "object": "payment_intent",
    "amount": 5000,
    "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH",
    "payment_method": "pm_1MtwBwLkdIwHu7ixlzIbLJbz",
    "status": "succeeded",
    "last_payment_error": {"message": "card 4242424242424242 declined"},
}
SECRETS = (
    "AUTH_pmx3mgawyd",
    "408408",
    "4081",
    "SIG_idyuhgd87dUYSHO92D",
    "+2250700000101",
    "_secret_YrKJUKribcBjcG8HVhfZluoGH",
    "pm_1MtwBwLkdIwHu7ixlzIbLJbz",
    "4242424242424242",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "whsec_5f0c2e8b1a",
    "123456",
    "7391",
)


def test_card_data_codes_signatures_and_phones_are_redacted_wherever_they_sit() -> None:
    sent = {
        "json": {"otp": "123456", "pin": "7391", "reference": "col_x", "phone": "+2250700000101"},
        "data": {
            "payment_method": "pm_1MtwBwLkdIwHu7ixlzIbLJbz",
            "payment_method_data[card][number]": "4242424242424242",
        },
        "params": {"api_key": "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "note": "signed with whsec_5f0c2e8b1a"},
    }
    answers = [
        PAYSTACK_CHARGE_SUCCESS,
        STRIPE_PAYMENT_INTENT,
        [{"Authorization": "Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc"}],
    ]
    stored = json.dumps([calls.redact(sent), *[calls.redact(answer) for answer in answers]])
    assert [secret for secret in SECRETS if secret in stored] == []


def test_what_support_needs_is_kept() -> None:
    paystack = calls.redact(PAYSTACK_CHARGE_SUCCESS)
    assert paystack["data"]["status"] == "success"
    assert paystack["data"]["reference"] == "col_2brlmd7rgnvbgytpla2zycj6ey"
    assert (paystack["data"]["amount"], paystack["data"]["id"]) == (500000, 4099260516)
    assert paystack["data"]["authorization"] == REDACTED
    assert paystack["data"]["customer"]["email"] == "kofi@example.ci"
    stripe = calls.redact(STRIPE_PAYMENT_INTENT)
    assert (stripe["id"], stripe["status"], stripe["client_secret"]) == (
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "succeeded",
        REDACTED,
    )
    assert stripe["last_payment_error"]["message"] == f"card {REDACTED} declined"
    assert calls.redact(None) is None
    assert calls.redact("plain text answer") == "plain text answer"


def test_a_call_is_noted_only_inside_a_recording() -> None:
    made = calls.Note(
        provider="paystack",
        method="GET",
        path="/transaction/verify/col_x",
        request={},
        status_code=200,
        response={},
        error=None,
        started_at=datetime(2026, 11, 26, tzinfo=UTC),
        duration_ms=12,
    )
    calls.note(made)
    with calls.recording() as notes:
        calls.note(made)
        with calls.recording() as inner:
            calls.note(made)
        assert inner == [made]
    assert notes == [made]
