"""A fake FedaPay: transactions, payment tokens, mobile-money "send now"
(``/v1/{mode}`` and ``/v1/transactions/{mode}``, only for the modes FedaPay
sends without a redirect), payouts and their start, with ``transaction.*`` and
``payout.*`` webhooks signed with ``X-FEDAPAY-SIGNATURE: t=<unix>,s=<hex>``.

Objects are wrapped by their class (``{"v1/transaction": {..., "klass":
"v1/transaction"}}``) and name their currency by ``currency_id`` only, unless
``include`` (in the body of a create, in the query of a lookup) asks for the
``currency`` object; XOF amounts are whole francs; errors are
``{"message": str, "errors": {...}}``; ``Authorization: Bearer <secret key>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from sika.core import clock
from sika.sandbox import wire
from sika.sandbox.common import base_url, bearer, json_body, sandbox_of
from sika.sandbox.scenarios import WEBHOOK_SCENARIOS, Scenario
from sika.sandbox.state import Answer, Event, Payment, Payout, Sandbox

PROVIDER = wire.FEDAPAY

MODES: dict[str, str] = {
    "mtn_open": "mtn",
    "mtn": "mtn",
    "moov": "moov",
    "mtn_ci": "mtn",
    "moov_ci": "moov",
    "orange_ci": "orange",
    "wave_ci": "wave",
    "moov_tg": "moov",
    "togocel": "togocel",
    "orange_sn": "orange",
    "wave_sn": "wave",
    "free_sn": "free",
    "airtel_ne": "airtel",
}
"""FedaPay payment modes the sandbox knows, with the operator behind each."""

SEND_NOW_MODES = frozenset({"mtn_open", "moov", "sbin", "moov_tg", "togocel", "mtn_ci", "airtel_ne", "free_sn"})
"""The modes FedaPay sends to the phone without a redirect (its payment-methods page, "Modes de
Paiement disponibles sans Redirection"); the others are paid on the checkout page only."""

CURRENCY_IDS = {"XOF": 1, "GNF": 2}
"""XOF is 1 in FedaPay's SDK tests; GNF's id is the sandbox's own (FedaPay documents none)."""


def error(status_code: int, message: str, errors: dict[str, list[str]] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "errors": errors or {}}, status_code=status_code)


async def guard(request: Request) -> Sandbox:
    sandbox = sandbox_of(request)
    if sandbox.is_down(PROVIDER):
        raise Answer(error(503, "Service Unavailable"))
    key = sandbox.settings.FEDAPAY_SECRET_KEY
    if key is None or bearer(request) != key.get_secret_value():
        raise Answer(error(401, "Unauthenticated"))
    return sandbox


router = APIRouter(prefix="/fedapay", tags=["fedapay"])


@router.post("/v1/transactions")
async def create_transaction(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    currency, amount = _money(body)
    customer = _customer(body)
    email = str(customer.get("email") or "")
    if "@" not in email:
        return error(400, "A customer email is required", {"customer.email": ["is invalid"]})
    merchant_reference = _unused_reference(body, sandbox.payments.values())
    number = _phone_number(customer.get("phone_number"))
    scenario = sandbox.scenario(PROVIDER, number)
    if scenario is Scenario.outage:
        return error(503, "Service Unavailable")
    await sandbox.delay_before(scenario)
    numeric_id = sandbox.next_number()
    payment = Payment(
        provider=PROVIDER,
        id=str(numeric_id),
        numeric_id=numeric_id,
        amount=amount,
        currency=currency,
        status="pending",
        scenario=scenario,
        channel="mobile_money",
        email=email,
        number=number,
        operator=None,
        request=body,
        created_at=clock.now(),
        merchant_reference=merchant_reference,
        return_url=str(body["callback_url"]) if body.get("callback_url") else None,
        metadata=_custom_metadata(body),
    )
    sandbox.payments[(PROVIDER, payment.id)] = payment
    await sandbox.delay_answer(scenario)
    return JSONResponse({"v1/transaction": transaction(payment, include=body.get("include"))})


@router.get("/v1/transactions/merchant/{merchant_reference}")
async def get_transaction_by_merchant_reference(
    merchant_reference: str, request: Request, sandbox: Sandbox = Depends(guard)
) -> JSONResponse:
    for payment in sandbox.payments.values():
        if payment.provider == PROVIDER and payment.merchant_reference == merchant_reference:
            return JSONResponse({"v1/transaction": transaction(payment, include=request.query_params.get("include"))})
    return error(404, "Transaction not found")


@router.get("/v1/transactions/{transaction_id}")
async def get_transaction(transaction_id: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payment = sandbox.payments.get((PROVIDER, transaction_id))
    if payment is None:
        return error(404, "Transaction not found")
    return JSONResponse({"v1/transaction": transaction(payment, include=request.query_params.get("include"))})


@router.post("/v1/transactions/{transaction_id}/token")
async def create_token(transaction_id: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payment = sandbox.payments.get((PROVIDER, transaction_id))
    if payment is None:
        return error(404, "Transaction not found")
    if payment.status != "pending":
        return error(400, "The transaction is no longer pending")
    payment.token = sandbox.token("", 40)
    url = f"{base_url(request)}/_sandbox/checkout/{PROVIDER}/{payment.id}?token={payment.token}"
    return JSONResponse({"token": payment.token, "url": url})


@router.post("/v1/payouts")
async def create_payout(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    currency, amount = _money(body)
    mode = str(body.get("mode") or "")
    if mode not in MODES:
        return error(400, f"Invalid mode {mode!r}", {"mode": ["is invalid"]})
    customer = _customer(body)
    number = _phone_number(customer.get("phone_number"))
    if not number:
        return error(400, "A customer phone number is required", {"customer.phone_number": ["is required"]})
    merchant_reference = _unused_reference(body, sandbox.payouts.values())
    scenario = sandbox.scenario(PROVIDER, number)
    if scenario is Scenario.outage:
        return error(503, "Service Unavailable")
    if scenario is Scenario.insufficient_funds:
        return error(400, "Your balance is insufficient for this payout")
    await sandbox.delay_before(scenario)
    numeric_id = sandbox.next_number()
    payout = Payout(
        provider=PROVIDER,
        id=str(numeric_id),
        numeric_id=numeric_id,
        amount=amount,
        currency=currency,
        status="pending",
        scenario=scenario,
        number=number,
        operator=MODES[mode],
        request=body,
        created_at=clock.now(),
        reference=sandbox.token("po_", 12),
        recipient=customer,
        mode=mode,
        merchant_reference=merchant_reference,
    )
    sandbox.payouts[(PROVIDER, payout.id)] = payout
    await sandbox.delay_answer(scenario)
    return JSONResponse({"v1/payout": payout_object(payout, include=body.get("include"))})


@router.put("/v1/payouts/start")
async def start_payouts(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    items = body.get("payouts")
    if not isinstance(items, list) or not items:
        return error(400, "payouts must list the payouts to start", {"payouts": ["is required"]})
    started: list[Payout] = []
    for item in items:
        payout = sandbox.payouts.get((PROVIDER, str(item.get("id") if isinstance(item, dict) else "")))
        if payout is None:
            return error(404, "Payout not found")
        if payout.status != "pending":
            return error(400, f"Payout {payout.id} is not pending")
        started.append(payout)
    for payout in started:
        payout.status = "started"
        succeeded = payout.scenario is not Scenario.declined
        sandbox.later(sandbox.config.approval_delay_seconds, _completion(sandbox, payout, succeeded=succeeded))
    return JSONResponse({"v1/payouts": [payout_object(p, include=body.get("include")) for p in started]})


@router.get("/v1/payouts/{payout_id}")
async def get_payout(payout_id: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payout = sandbox.payouts.get((PROVIDER, payout_id))
    if payout is None:
        return error(404, "Payout not found")
    return JSONResponse({"v1/payout": payout_object(payout, include=request.query_params.get("include"))})


@router.post("/v1/transactions/{mode}")
@router.post("/v1/{mode}")
async def send_now(mode: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    if mode not in MODES:
        return error(400, f"Invalid payment mode {mode!r}", {"mode": ["is invalid"]})
    if mode not in SEND_NOW_MODES:
        return error(
            400,
            f"The payment mode {mode!r} is not available without redirection",
            {"mode": ["is not available without redirection"]},
        )
    token = str(body.get("token") or "")
    payment = next(
        (p for p in sandbox.payments.values() if p.provider == PROVIDER and p.token == token and token),
        None,
    )
    if payment is None:
        return error(404, "Invalid or expired token")
    if payment.status != "pending" or payment.mode is not None:
        return error(400, "This transaction was already sent")
    payment.mode = mode
    payment.operator = MODES[mode]
    phone = _phone_number(body.get("phone_number"))
    if phone:
        payment.number = phone
    if payment.scenario in (Scenario.insufficient_funds, Scenario.declined):
        code = "INSUFFICIENT_FUND" if payment.scenario is Scenario.insufficient_funds else "DECLINED"
        await complete_transaction(sandbox, payment, succeeded=False, error_code=code)
        return JSONResponse(_intent(payment, status="failed", message="The payment was declined"))
    if sandbox.config.auto_approve:
        sandbox.later(
            sandbox.config.approval_delay_seconds,
            lambda: complete_transaction(sandbox, payment, succeeded=True),
        )
    return JSONResponse(_intent(payment, status="pending", message="Payment request sent"))


def _completion(sandbox: Sandbox, payout: Payout, *, succeeded: bool) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await complete_payout(sandbox, payout, succeeded=succeeded)

    return run


async def complete_transaction(
    sandbox: Sandbox, payment: Payment, *, succeeded: bool, error_code: str = "DECLINED"
) -> None:
    if payment.status != "pending":
        return
    now = clock.now()
    earlier = Event(
        PROVIDER,
        "transaction.created",
        payment.id,
        _event("transaction.created", "transaction", transaction(payment), sandbox),
    )
    if succeeded:
        payment.status = "approved"
        payment.paid_at = now
        name = "transaction.approved"
        scenario = payment.scenario if payment.scenario in WEBHOOK_SCENARIOS else Scenario.success
    else:
        payment.status = "declined"
        payment.error_code = error_code
        name = "transaction.declined"
        scenario = Scenario.success
    final = Event(PROVIDER, name, payment.id, _event(name, "transaction", transaction(payment), sandbox))
    await sandbox.announce(scenario, final, currency=payment.currency, earlier=earlier)


async def cancel_transaction(sandbox: Sandbox, payment: Payment) -> None:
    if payment.status != "pending":
        return
    payment.status = "canceled"
    event = Event(
        PROVIDER,
        "transaction.canceled",
        payment.id,
        _event("transaction.canceled", "transaction", transaction(payment), sandbox),
    )
    await sandbox.announce(Scenario.success, event, currency=payment.currency)


async def complete_payout(sandbox: Sandbox, payout: Payout, *, succeeded: bool) -> None:
    if payout.status not in ("pending", "started"):
        return
    payout.completed_at = clock.now()
    payout.status = "sent" if succeeded else "failed"
    if not succeeded:
        payout.failures = "DECLINED"
    name = "payout.sent" if succeeded else "payout.failed"
    scenario = payout.scenario if succeeded and payout.scenario in WEBHOOK_SCENARIOS else Scenario.success
    event = Event(PROVIDER, name, payout.id, _event(name, "payout", payout_object(payout), sandbox))
    await sandbox.announce(scenario, event, currency=payout.currency)


def _event(name: str, kind: str, entity: dict[str, Any], sandbox: Sandbox) -> dict[str, Any]:
    return {
        "id": sandbox.next_number(),
        "klass": "v1/event",
        "name": name,
        "object": kind,
        "object_id": entity["id"],
        "entity": entity,
        "created_at": clock.now().isoformat(),
    }


def _money(body: dict[str, Any]) -> tuple[str, int]:
    """The currency and wire amount a creation asks for, refused as FedaPay refuses them."""
    currency = _iso(body.get("currency"))
    amount = body.get("amount")
    problem = wire.check(PROVIDER, currency, amount)
    if problem:
        raise Answer(error(400, problem, {"amount": [problem]}))
    assert isinstance(amount, int)
    return currency, amount


def _custom_metadata(body: dict[str, Any]) -> dict[str, Any]:
    """What the merchant attached: FedaPay documents ``custom_metadata`` on creation."""
    value = body.get("custom_metadata")
    return value if isinstance(value, dict) else {}


def _includes_currency(include: object) -> bool:
    """Whether ``include`` (``"customer,currency"``, as FedaPay's SDKs send it) asks for the currency."""
    return isinstance(include, str) and "currency" in (part.strip() for part in include.split(","))


def _customer(body: dict[str, Any]) -> dict[str, Any]:
    customer = body.get("customer")
    return customer if isinstance(customer, dict) else {}


def _unused_reference(body: dict[str, Any], taken: Iterable[Payment | Payout]) -> str | None:
    """The request's ``merchant_reference``, refused when one of ``taken`` already has it."""
    reference = body.get("merchant_reference")
    if reference is None:
        return None
    if any(item.provider == PROVIDER and item.merchant_reference == reference for item in taken):
        raise Answer(
            error(400, "merchant_reference has already been taken", {"merchant_reference": ["has already been taken"]})
        )
    return str(reference)


def _iso(currency: object) -> str:
    if isinstance(currency, dict):
        return str(currency.get("iso") or "")
    return str(currency or "")


def _phone_number(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("number") or "")
    return str(value or "")


def _currency(code: str) -> dict[str, Any]:
    return {
        "klass": "v1/currency",
        "id": CURRENCY_IDS.get(code, 0),
        "iso": code,
        "name": "FCFA" if code == "XOF" else code,
    }


def _intent(payment: Payment, *, status: str, message: str) -> dict[str, Any]:
    return {
        "reference": f"pi_{payment.id}",
        "transaction_id": payment.numeric_id,
        "amount": payment.amount,
        "status": status,
        "mode": payment.mode,
        "message": message,
        "last_error_code": payment.error_code or "NO_ERROR",
        "currency_id": CURRENCY_IDS.get(payment.currency, 0),
    }


def transaction(payment: Payment, *, include: object = None) -> dict[str, Any]:
    """The transaction as FedaPay states it; its ``currency`` only when ``include`` asks for it."""

    def at(status: str) -> str | None:
        return payment.paid_at.isoformat() if payment.status == status and payment.paid_at else None

    stated: dict[str, Any] = {
        "klass": "v1/transaction",
        "id": payment.numeric_id,
        "reference": f"trx_{payment.numeric_id}",
        "amount": payment.amount,
        "description": payment.request.get("description"),
        "callback_url": payment.return_url,
        "status": payment.status,
        "mode": payment.mode,
        "operation": "payment",
        "currency_id": CURRENCY_IDS.get(payment.currency, 0),
        "merchant_reference": payment.merchant_reference,
        "custom_metadata": payment.metadata,
        "last_error_code": payment.error_code,
        "customer": {
            "klass": "v1/customer",
            "email": payment.email,
            "phone_number": {"number": payment.number},
        },
        "created_at": payment.created_at.isoformat(),
        "approved_at": at("approved"),
    }
    if _includes_currency(include):
        stated["currency"] = _currency(payment.currency)
    return stated


def payout_object(payout: Payout, *, include: object = None) -> dict[str, Any]:
    """The payout as FedaPay states it; its ``currency`` only when ``include`` asks for it."""
    stated: dict[str, Any] = {
        "klass": "v1/payout",
        "id": payout.numeric_id,
        "reference": payout.reference,
        "amount": payout.amount,
        "status": payout.status,
        "mode": payout.mode,
        "currency_id": CURRENCY_IDS.get(payout.currency, 0),
        "merchant_reference": payout.merchant_reference,
        "customer": payout.recipient,
        "last_error_code": payout.failures,
        "created_at": payout.created_at.isoformat(),
        "sent_at": payout.completed_at.isoformat() if payout.completed_at and payout.status == "sent" else None,
        "failed_at": payout.completed_at.isoformat() if payout.completed_at and payout.status == "failed" else None,
    }
    if _includes_currency(include):
        stated["currency"] = _currency(payout.currency)
    return stated
