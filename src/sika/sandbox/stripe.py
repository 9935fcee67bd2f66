"""A fake Stripe: payment methods (to tokenise a test card) and
PaymentIntents (create, confirm, retrieve), form-encoded as Stripe takes them,
with ``Idempotency-Key`` replays and the ``payment_intent.*`` webhooks signed
with ``Stripe-Signature: t=<unix>,v1=<hex>``.

Errors are ``{"error": {"type", "code", "decline_code", "message", ...}}``;
XOF is zero-decimal; ``Authorization: Bearer <secret key>``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from sika.core import clock
from sika.sandbox import wire
from sika.sandbox.common import base_url, bearer, sandbox_of
from sika.sandbox.scenarios import STRIPE_TEST_PAYMENT_METHODS, WEBHOOK_SCENARIOS, Scenario
from sika.sandbox.state import Answer, Event, Payment, Sandbox

PROVIDER = wire.STRIPE
API_VERSION = "2024-06-20"
SEARCH_CLAUSE = re.compile(r"""metadata\[['"](?P<key>[\w.-]+)['"]\]:['"](?P<value>[^'"]*)['"]""")

DECLINES: dict[Scenario, tuple[str, str]] = {
    Scenario.insufficient_funds: ("insufficient_funds", "Your card has insufficient funds."),
    Scenario.declined: ("generic_decline", "Your card was declined."),
}


def error_body(
    message: str,
    *,
    kind: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    body.update(extra)
    return {"error": body}


def error(
    status_code: int,
    message: str,
    *,
    kind: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(error_body(message, kind=kind, code=code, param=param, **extra), status_code=status_code)


async def guard(request: Request) -> Sandbox:
    sandbox = sandbox_of(request)
    if sandbox.is_down(PROVIDER):
        raise Answer(error(503, "Stripe is temporarily unavailable.", kind="api_error"))
    key = sandbox.settings.STRIPE_SECRET_KEY
    if key is None or _api_key(request) != key.get_secret_value():
        raise Answer(error(401, "Invalid API Key provided."))
    return sandbox


router = APIRouter(prefix="/stripe", tags=["stripe"])


@router.post("/v1/payment_methods")
async def create_payment_method(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    form = await _form(request)
    if form.get("type") != "card":
        return error(400, "Only card payment methods are supported.", param="type")
    number = form.get("card[number]", "").replace(" ", "")
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return error(
            402,
            "Your card number is incorrect.",
            kind="card_error",
            code="incorrect_number",
            param="card[number]",
        )
    pm_id = sandbox.token("pm_", 24)
    sandbox.payment_methods[pm_id] = number
    return JSONResponse(
        {
            "id": pm_id,
            "object": "payment_method",
            "type": "card",
            "livemode": False,
            "created": int(clock.now().timestamp()),
            "card": {
                "brand": "visa" if number.startswith("4") else "mastercard",
                "last4": number[-4:],
                "exp_month": int(form.get("card[exp_month]") or 12),
                "exp_year": int(form.get("card[exp_year]") or 2034),
                "country": "US",
                "funding": "credit",
            },
        }
    )


@router.post("/v1/payment_intents")
async def create_payment_intent(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    """Keyed by ``Idempotency-Key`` as Stripe does (https://docs.stripe.com/api/idempotent_requests):
    the first answer is saved once the endpoint runs and replayed; the key with other parameters
    is an ``idempotency_error``; while the first is still running, a 409 that saves nothing."""
    form = _parse(await request.body())
    key = request.headers.get("idempotency-key")
    if not key:
        return await _create_payment_intent(request, sandbox, form, key=None)
    saved = sandbox.idempotency.get(key)
    if saved is not None:
        if saved[0] != _fingerprint(form):
            return error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                kind="idempotency_error",
            )
        return JSONResponse(saved[2], status_code=saved[1], headers={"Idempotent-Replayed": "true"})
    if key in sandbox.stripe_keys_running:
        return error(
            409,
            "There is currently another in-progress request using this Idempotent Key (that probably means "
            "you submitted twice, and the other request is still going through): "
            f"{key}. Please try again later.",
            code="idempotency_key_in_use",
        )
    sandbox.stripe_keys_running.add(key)
    try:
        return await _create_payment_intent(request, sandbox, form, key=key)
    finally:
        sandbox.stripe_keys_running.discard(key)


async def _create_payment_intent(
    request: Request, sandbox: Sandbox, form: dict[str, str], *, key: str | None
) -> JSONResponse:
    amount_text = form.get("amount", "")
    currency = form.get("currency", "").upper()
    if not amount_text.isdigit():
        return error(400, "Invalid integer: amount", code="parameter_invalid_integer", param="amount")
    amount = int(amount_text)
    problem = wire.check(PROVIDER, currency, amount)
    if problem:
        return error(400, problem, code="parameter_invalid", param="amount")
    payment_method = form.get("payment_method")
    number = _card_number(sandbox, payment_method)
    if payment_method and number is None and payment_method not in STRIPE_TEST_PAYMENT_METHODS:
        return error(
            400,
            f"No such PaymentMethod: '{payment_method}'",
            code="resource_missing",
            param="payment_method",
        )
    scenario = _scenario(sandbox, payment_method, number)
    if scenario is Scenario.outage:
        return error(503, "Stripe is temporarily unavailable.", kind="api_error")
    await sandbox.delay_before(scenario)
    numeric_id = sandbox.next_number()
    payment = Payment(
        provider=PROVIDER,
        id=sandbox.token("pi_", 24),
        numeric_id=numeric_id,
        amount=amount,
        currency=currency,
        status="requires_payment_method",
        scenario=scenario,
        channel="card",
        email=form.get("receipt_email", ""),
        number=number,
        operator=None,
        request=dict(form),
        created_at=clock.now(),
        payment_method=payment_method,
        return_url=form.get("return_url"),
        metadata=_metadata(form),
    )
    if payment_method:
        payment.status = "requires_confirmation"
    payment.created_snapshot = intent(payment, base_url(request))
    sandbox.payments[(PROVIDER, payment.id)] = payment
    if form.get("confirm") == "true":
        status_code, body = await _confirm(sandbox, payment, base_url(request))
    else:
        status_code, body = 200, intent(payment, base_url(request))
    index(sandbox, payment, base_url(request))
    if key:
        # Saved before a slow answer goes out: a retry meanwhile gets this very answer.
        sandbox.idempotency[key] = (_fingerprint(form), status_code, body)
    await sandbox.delay_answer(scenario)
    return JSONResponse(body, status_code=status_code)


@router.post("/v1/payment_intents/{intent_id}/confirm")
async def confirm_payment_intent(intent_id: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payment = sandbox.payments.get((PROVIDER, intent_id))
    if payment is None:
        return _missing(intent_id)
    form = await _form(request)
    if form.get("payment_method"):
        number = _card_number(sandbox, form["payment_method"])
        payment.payment_method = form["payment_method"]
        payment.number = number
        payment.scenario = _scenario(sandbox, payment.payment_method, number)
    if form.get("return_url"):
        payment.return_url = form["return_url"]
    if payment.status not in ("requires_confirmation", "requires_payment_method") or not payment.payment_method:
        return error(
            400,
            f"This PaymentIntent's status is {payment.status}; it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    status_code, body = await _confirm(sandbox, payment, base_url(request))
    index(sandbox, payment, base_url(request))
    return JSONResponse(body, status_code=status_code)


@router.get("/v1/payment_intents/search")
async def search_payment_intents(request: Request, query: str = "", sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    """Only the metadata clause of Stripe's search language: ``metadata['key']:'value'``,
    over the index as it was ``stripe_search_lag_seconds`` ago (Search is not read-after-write)."""
    match = SEARCH_CLAUSE.fullmatch(query.strip())
    if match is None:
        return error(400, "The sandbox searches by one metadata clause only.", param="query")
    key, value = match.group("key"), match.group("value")
    found = [indexed for indexed in sandbox.stripe_search_index.values() if indexed["metadata"].get(key) == value]
    return JSONResponse(
        {
            "object": "search_result",
            "url": "/v1/payment_intents/search",
            "has_more": False,
            "data": found,
        }
    )


@router.get("/v1/payment_intents/{intent_id}")
async def retrieve_payment_intent(intent_id: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payment = sandbox.payments.get((PROVIDER, intent_id))
    if payment is None:
        return _missing(intent_id)
    return JSONResponse(intent(payment, base_url(request)))


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def unrecognized(path: str, request: Request) -> JSONResponse:
    """Any other path or method, answered as Stripe does: 404 in its error envelope
    ("Unrecognized request URL"), never a 405 (https://docs.stripe.com/api/errors).
    Declared last, so a known path with another method reaches it too."""
    return error(
        404,
        f"Unrecognized request URL ({request.method}: /{path}). "
        "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )


async def _confirm(sandbox: Sandbox, payment: Payment, sandbox_url: str) -> tuple[int, dict[str, Any]]:
    if payment.scenario in DECLINES:
        await fail_intent(sandbox, payment, sandbox_url)
        decline_code, message = DECLINES[payment.scenario]
        return 402, error_body(
            message,
            kind="card_error",
            code="card_declined",
            decline_code=decline_code,
            payment_intent=intent(payment, sandbox_url),
        )
    if payment.scenario is Scenario.authentication_required:
        payment.status = "requires_action"
        return 200, intent(payment, sandbox_url)
    await succeed_intent(sandbox, payment, sandbox_url)
    return 200, intent(payment, sandbox_url)


async def succeed_intent(sandbox: Sandbox, payment: Payment, sandbox_url: str) -> None:
    if payment.status in ("succeeded", "canceled"):
        return
    payment.status = "succeeded"
    payment.paid_at = clock.now()
    payment.error_code = None
    index(sandbox, payment, sandbox_url)
    scenario = payment.scenario if payment.scenario in WEBHOOK_SCENARIOS else Scenario.success
    final = Event(
        PROVIDER,
        "payment_intent.succeeded",
        payment.id,
        _event(sandbox, "payment_intent.succeeded", intent(payment, sandbox_url)),
    )
    earlier = Event(
        PROVIDER,
        "payment_intent.created",
        payment.id,
        _event(sandbox, "payment_intent.created", payment.created_snapshot or {}),
    )
    await sandbox.announce(scenario, final, currency=payment.currency, earlier=earlier)


async def fail_intent(sandbox: Sandbox, payment: Payment, sandbox_url: str) -> None:
    if payment.status in ("succeeded", "canceled"):
        return
    payment.status = "requires_payment_method"
    payment.error_code = DECLINES.get(payment.scenario, DECLINES[Scenario.declined])[0]
    index(sandbox, payment, sandbox_url)
    event = Event(
        PROVIDER,
        "payment_intent.payment_failed",
        payment.id,
        _event(sandbox, "payment_intent.payment_failed", intent(payment, sandbox_url)),
    )
    await sandbox.announce(Scenario.success, event, currency=payment.currency)


def index(sandbox: Sandbox, payment: Payment, sandbox_url: str) -> None:
    """Show the intent as it is now to Search, ``stripe_search_lag_seconds`` from now."""
    snapshot = intent(payment, sandbox_url)
    lag = sandbox.config.stripe_search_lag_seconds

    async def publish() -> None:
        sandbox.stripe_search_index[payment.id] = snapshot

    if lag <= 0:
        sandbox.stripe_search_index[payment.id] = snapshot
    else:
        sandbox.later(lag, publish)


def intent(payment: Payment, sandbox_url: str) -> dict[str, Any]:
    """A PaymentIntent as Stripe describes it."""
    body: dict[str, Any] = {
        "id": payment.id,
        "object": "payment_intent",
        "amount": payment.amount,
        "amount_received": payment.amount if payment.status == "succeeded" else 0,
        "currency": payment.currency.lower(),
        "status": payment.status,
        "client_secret": f"{payment.id}_secret_sandbox",
        "created": int(payment.created_at.timestamp()),
        "livemode": False,
        "metadata": payment.metadata,
        "payment_method": payment.payment_method,
        "payment_method_types": ["card"],
        "description": payment.request.get("description"),
        "latest_charge": f"ch_{payment.numeric_id}" if payment.status == "succeeded" else None,
        "next_action": None,
        "last_payment_error": None,
    }
    if payment.status == "requires_action":
        body["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "url": f"{sandbox_url}/_sandbox/checkout/{PROVIDER}/{payment.id}",
                "return_url": payment.return_url,
            },
        }
    if payment.error_code:
        decline_code = payment.error_code
        message = next((m for c, m in DECLINES.values() if c == decline_code), "Your card was declined.")
        body["last_payment_error"] = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline_code,
            "message": message,
        }
    return body


def _event(sandbox: Sandbox, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sandbox.token("evt_", 24),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(clock.now().timestamp()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {"object": obj},
    }


def _scenario(sandbox: Sandbox, payment_method: str | None, number: str | None) -> Scenario:
    if PROVIDER in sandbox.forced:
        return sandbox.forced[PROVIDER]
    if payment_method in STRIPE_TEST_PAYMENT_METHODS:
        return STRIPE_TEST_PAYMENT_METHODS[payment_method]
    return sandbox.scenario(PROVIDER, number)


def _card_number(sandbox: Sandbox, payment_method: str | None) -> str | None:
    return sandbox.payment_methods.get(payment_method) if payment_method else None


def _missing(intent_id: str) -> JSONResponse:
    return error(404, f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent")


def _api_key(request: Request) -> str | None:
    token = bearer(request)
    if token is not None:
        return token
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials).decode()
    except ValueError:
        return None
    return decoded.partition(":")[0]


async def _form(request: Request) -> dict[str, str]:
    return _parse(await request.body())


def _parse(raw: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise Answer(error(400, "The request body is not valid form data.")) from None


def _fingerprint(form: dict[str, str]) -> str:
    """What two requests must share to be the same one: their parameters, in any order."""
    return hashlib.sha256(repr(sorted(form.items())).encode()).hexdigest()


def _metadata(form: dict[str, str]) -> dict[str, str]:
    return {
        key[len("metadata[") : -1]: value
        for key, value in form.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
