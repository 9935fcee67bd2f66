"""``/_sandbox``: what an integrator or a test uses to steer the sandbox.

Force a scenario on a whole provider, tune its timings, act as the customer
(approve, refuse, pass a redirect), read what it received and every webhook
it sent, and replay, release or tamper with those webhooks. Meant for a
laptop or a test run: it has no authentication of its own.
"""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from sika.sandbox import fedapay, paystack, stripe, wire
from sika.sandbox.common import base_url, sandbox_of
from sika.sandbox.scenarios import (
    MAGIC_NUMBERS,
    STRIPE_TEST_PAYMENT_METHODS,
    VALID_OTP,
    Scenario,
)
from sika.sandbox.state import MAX_LISTED, Payment, Payout, Sandbox

router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])


class Provider(StrEnum):
    paystack = wire.PAYSTACK
    fedapay = wire.FEDAPAY
    stripe = wire.STRIPE


class Outcome(StrEnum):
    succeeded = "succeeded"
    failed = "failed"


class ForceScenario(BaseModel):
    scenario: Scenario


class ConfigChange(BaseModel):
    webhook_target: str | None = None
    approval_delay_seconds: float | None = Field(default=None, ge=0, le=3600)
    latency_seconds: float | None = Field(default=None, ge=0, le=3600)
    no_answer_seconds: float | None = Field(default=None, ge=0, le=3600)
    webhook_late_seconds: float | None = Field(default=None, ge=0, le=3600)
    auto_approve: bool | None = None
    paystack_transfer_otp: bool | None = None
    stripe_search_lag_seconds: float | None = Field(default=None, ge=0, le=3600)
    webhook_retry_delays_seconds: list[float] | None = Field(default=None, max_length=10)


class Completion(BaseModel):
    outcome: Outcome = Outcome.succeeded


class Resend(BaseModel):
    tamper_amount: bool = False
    """Change the amount after signing, as an attacker in the middle would."""


@router.get("")
async def overview(request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    return {
        "config": asdict(sandbox.config),
        "forced": sandbox.forced,
        "magic_numbers": [asdict(magic) for magic in MAGIC_NUMBERS],
        "valid_otp": VALID_OTP,
        "stripe_test_payment_methods": STRIPE_TEST_PAYMENT_METHODS,
        "wire_exponents": wire.WIRE_EXPONENTS,
        "counts": {
            "payments": len(sandbox.payments),
            "payouts": len(sandbox.payouts),
            "webhooks": len(sandbox.deliveries),
        },
    }


@router.get("/scenarios")
async def scenarios(request: Request) -> dict[str, Any]:
    return {
        "forced": sandbox_of(request).forced,
        "scenarios": [scenario.value for scenario in Scenario],
        "magic_numbers": [asdict(magic) for magic in MAGIC_NUMBERS],
    }


@router.put("/scenarios/{provider}")
async def force_scenario(provider: Provider, change: ForceScenario, request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    sandbox.forced[provider.value] = change.scenario
    return {"forced": sandbox.forced}


@router.delete("/scenarios/{provider}")
async def clear_scenario(provider: Provider, request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    sandbox.forced.pop(provider.value, None)
    return {"forced": sandbox.forced}


@router.patch("/config")
async def change_config(change: ConfigChange, request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    for name, value in change.model_dump(exclude_none=True).items():
        setattr(sandbox.config, name, value)
    return asdict(sandbox.config)


@router.post("/reset")
async def reset(request: Request) -> dict[str, str]:
    sandbox_of(request).reset()
    return {"status": "reset"}


@router.get("/payments")
async def list_payments(request: Request, provider: Provider | None = None) -> list[dict[str, Any]]:
    payments = [p for p in sandbox_of(request).payments.values() if provider is None or p.provider == provider.value]
    return [_describe(p) for p in reversed(payments[-MAX_LISTED:])]


@router.get("/payments/{provider}/{payment_id}")
async def get_payment(provider: Provider, payment_id: str, request: Request) -> dict[str, Any]:
    return _describe(_payment(sandbox_of(request), provider, payment_id))


@router.post("/payments/{provider}/{payment_id}/complete")
async def complete_payment(
    provider: Provider, payment_id: str, completion: Completion, request: Request
) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    payment = _payment(sandbox, provider, payment_id)
    await _settle_payment(sandbox, payment, completion.outcome is Outcome.succeeded, base_url(request))
    return _describe(payment)


@router.get("/payouts")
async def list_payouts(request: Request, provider: Provider | None = None) -> list[dict[str, Any]]:
    payouts = [p for p in sandbox_of(request).payouts.values() if provider is None or p.provider == provider.value]
    return [_describe(p) for p in reversed(payouts[-MAX_LISTED:])]


@router.post("/payouts/{provider}/{payout_id}/complete")
async def complete_payout(
    provider: Provider, payout_id: str, completion: Completion, request: Request
) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    payout = sandbox.payouts.get((provider.value, payout_id))
    if payout is None:
        raise HTTPException(404, f"No {provider.value} payout {payout_id}")
    succeeded = completion.outcome is Outcome.succeeded
    if provider is Provider.paystack:
        await paystack.complete_transfer(sandbox, payout, succeeded=succeeded)
    elif provider is Provider.fedapay:
        await fedapay.complete_payout(sandbox, payout, succeeded=succeeded)
    else:
        raise HTTPException(400, "The sandbox's Stripe makes no payouts")
    return _describe(payout)


@router.get("/webhooks")
async def list_webhooks(
    request: Request,
    provider: Provider | None = None,
    reference: str | None = None,
    event_type: str | None = None,
) -> list[dict[str, Any]]:
    deliveries = [
        d
        for d in sandbox_of(request).deliveries.values()
        if (provider is None or d.provider == provider.value)
        and (reference is None or d.reference == reference)
        and (event_type is None or d.event_type == event_type)
    ]
    return [d.describe() for d in deliveries[-MAX_LISTED:]]


@router.post("/webhooks/{delivery_id}/resend")
async def resend_webhook(delivery_id: str, resend: Resend, request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    delivery = sandbox.deliveries.get(delivery_id)
    if delivery is None:
        raise HTTPException(404, f"No webhook {delivery_id}")
    return sandbox.resend(delivery, tamper_amount=resend.tamper_amount).describe()


@router.post("/webhooks/{delivery_id}/release")
async def release_webhook(delivery_id: str, request: Request) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    delivery = sandbox.deliveries.get(delivery_id)
    if delivery is None:
        raise HTTPException(404, f"No webhook {delivery_id}")
    if delivery.status != "withheld":
        raise HTTPException(409, f"Webhook {delivery_id} is {delivery.status}, not withheld")
    sandbox.release(delivery)
    return delivery.describe()


@router.get("/checkout/{provider}/{payment_id}", response_class=HTMLResponse)
async def checkout(
    provider: Provider, payment_id: str, request: Request, outcome: Outcome = Outcome.succeeded
) -> Response:
    """The page a redirect sends the customer to (Wave, 3-D Secure, FedaPay checkout):
    opening it approves the payment, or refuses it with ``?outcome=failed``."""
    sandbox = sandbox_of(request)
    payment = _payment(sandbox, provider, payment_id)
    succeeded = outcome is Outcome.succeeded
    await _settle_payment(sandbox, payment, succeeded, base_url(request))
    if payment.return_url:
        return RedirectResponse(payment.return_url, status_code=303)
    verdict = "approved" if succeeded else "refused"
    return HTMLResponse(
        f"<!doctype html><title>Sika sandbox</title><h1>Payment {verdict}</h1>"
        f"<p>{provider.value} payment {payment_id}: {payment.status}. You can close this page.</p>"
    )


async def _settle_payment(sandbox: Sandbox, payment: Payment, succeeded: bool, sandbox_url: str) -> None:
    """Act as the customer: approve the payment, or refuse it."""
    if payment.provider == wire.PAYSTACK:
        await paystack.complete_charge(sandbox, payment, succeeded=succeeded)
    elif payment.provider == wire.FEDAPAY and succeeded:
        await fedapay.complete_transaction(sandbox, payment, succeeded=True)
    elif payment.provider == wire.FEDAPAY:
        await fedapay.cancel_transaction(sandbox, payment)
    elif succeeded:
        await stripe.succeed_intent(sandbox, payment, sandbox_url)
    else:
        await stripe.fail_intent(sandbox, payment, sandbox_url)


def _payment(sandbox: Sandbox, provider: Provider, payment_id: str) -> Payment:
    payment = sandbox.payments.get((provider.value, payment_id))
    if payment is None:
        raise HTTPException(404, f"No {provider.value} payment {payment_id}")
    return payment


def _describe(item: Payment | Payout) -> dict[str, Any]:
    described: dict[str, Any] = jsonable_encoder(asdict(item))
    return described
