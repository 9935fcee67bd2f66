"""A fake Paystack: charges (mobile money, card, saved authorisation), OTP
submission, verification, transfer recipients and transfers with their
optional OTP step, and the ``charge.success`` / ``transfer.*`` webhooks
signed with ``x-paystack-signature``.

Envelope ``{"status": bool, "message": str, "data": {...}}``; amounts in
hundredths of every currency; ``Authorization: Bearer <secret key>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from sika.core import clock
from sika.sandbox import wire
from sika.sandbox.common import as_int, base_url, bearer, json_body, metadata, sandbox_of
from sika.sandbox.scenarios import VALID_OTP, WEBHOOK_SCENARIOS, Scenario
from sika.sandbox.state import Answer, Event, Payment, Payout, Sandbox

PROVIDER = wire.PAYSTACK

OTP_OPERATORS = frozenset({"orange"})
REDIRECT_OPERATORS = frozenset({"wave"})
PENDING_STATUSES = frozenset({"send_otp", "pay_offline", "pending", "open_url"})
DISPLAY_TEXT = {
    "send_otp": "Dial #144*82# to get your authorisation code, then enter it here",
    "pay_offline": "Please complete authorization process on your mobile phone",
    "pending": "Complete the payment in the Wave app",
    "open_url": "Complete the 3-D Secure check",
}
TRANSFER_TYPES = frozenset({"mobile_money", "nuban", "ghipss", "basa", "authorization"})
INTEGRATION = 100001
"""The sandbox's one Paystack integration (business) id."""


def error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"status": False, "message": message}, status_code=status_code)


def ok(message: str, data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": True, "message": message, "data": data})


async def guard(request: Request) -> Sandbox:
    sandbox = sandbox_of(request)
    if sandbox.is_down(PROVIDER):
        raise Answer(error(503, "Service temporarily unavailable, please try again later"))
    key = sandbox.settings.PAYSTACK_SECRET_KEY
    if key is None or bearer(request) != key.get_secret_value():
        raise Answer(error(401, "Invalid key"))
    return sandbox


router = APIRouter(prefix="/paystack", tags=["paystack"])


@router.post("/charge")
async def charge(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    email = body.get("email")
    amount = as_int(body.get("amount"))
    currency = str(body.get("currency") or "NGN")
    if not isinstance(email, str) or "@" not in email:
        return error(400, "Invalid Email Address Passed")
    problem = wire.check(PROVIDER, currency, amount)
    if problem:
        return error(400, problem)
    assert isinstance(amount, int)
    reference = str(body.get("reference") or sandbox.token("T", 15))
    if (PROVIDER, reference) in sandbox.payments:
        return error(400, "Duplicate Transaction Reference")
    mobile_money = body.get("mobile_money")
    card = body.get("card")
    authorization_code = body.get("authorization_code")
    operator: str | None = None
    if isinstance(mobile_money, dict):
        channel = "mobile_money"
        number = str(mobile_money.get("phone") or "")
        operator = str(mobile_money.get("provider") or "").lower()
        if not number or not operator:
            return error(400, "mobile_money.phone and mobile_money.provider are required")
    elif isinstance(card, dict):
        channel = "card"
        number = str(card.get("number") or "")
        if not number:
            return error(400, "card.number is required")
    elif isinstance(authorization_code, str):
        channel = "card"
        if authorization_code not in sandbox.authorizations:
            return error(400, "Invalid authorization code")
        number = sandbox.authorizations[authorization_code]
    else:
        return error(400, "Please provide a payment channel: mobile_money, card or authorization_code")
    scenario = sandbox.scenario(PROVIDER, number)
    if scenario is Scenario.outage:
        return error(503, "Service temporarily unavailable, please try again later")
    await sandbox.delay_before(scenario)
    payment = Payment(
        provider=PROVIDER,
        id=reference,
        numeric_id=sandbox.next_number(),
        amount=amount,
        currency=currency,
        status="pending",
        scenario=scenario,
        channel=channel,
        email=email,
        number=number,
        operator=operator,
        request=body,
        created_at=clock.now(),
        metadata=metadata(body),
    )
    sandbox.payments[(PROVIDER, reference)] = payment
    if scenario in (Scenario.insufficient_funds, Scenario.declined):
        payment.status = "failed"
        payment.gateway_response = "Insufficient funds" if scenario is Scenario.insufficient_funds else "Declined"
        await sandbox.delay_answer(scenario)
        return ok("Charge attempted", transaction(payment))
    if channel == "card" and scenario is not Scenario.authentication_required:
        await complete_charge(sandbox, payment, succeeded=True, wait=scenario is Scenario.webhook_out_of_order)
        await sandbox.delay_answer(scenario)
        return ok("Charge attempted", transaction(payment))
    if channel == "card":
        payment.status = "open_url"
    elif operator in OTP_OPERATORS:
        payment.status = "send_otp"
    elif operator in REDIRECT_OPERATORS:
        payment.status = "pending"
    else:
        payment.status = "pay_offline"
        if sandbox.config.auto_approve and scenario is not Scenario.webhook_out_of_order:
            sandbox.later(
                sandbox.config.approval_delay_seconds,
                lambda: complete_charge(sandbox, payment, succeeded=True),
            )
    answer = pending_answer(payment, base_url(request))
    if scenario is Scenario.webhook_out_of_order:
        # Paystack announces charges with one event only, so "out of order" here
        # is the race integrators meet: charge.success lands before the answer.
        await complete_charge(sandbox, payment, succeeded=True, wait=True)
    await sandbox.delay_answer(scenario)
    return ok("Charge attempted", answer)


@router.post("/charge/submit_otp")
async def submit_otp(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    payment = sandbox.payments.get((PROVIDER, str(body.get("reference", ""))))
    if payment is None:
        return error(400, "Transaction reference not found")
    if payment.status in ("success", "failed"):
        return ok("Charge attempted", transaction(payment))
    if payment.status != "send_otp":
        return error(400, "This charge is not awaiting an OTP")
    if str(body.get("otp", "")) != VALID_OTP:
        payment.status = "failed"
        payment.gateway_response = "Invalid OTP"
        return ok("Charge attempted", transaction(payment))
    await complete_charge(sandbox, payment, succeeded=True)
    return ok("Charge attempted", transaction(payment))


@router.get("/charge/{reference}")
async def check_pending_charge(reference: str, request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payment = sandbox.payments.get((PROVIDER, reference))
    if payment is None:
        return error(404, "Transaction reference not found")
    if payment.status in PENDING_STATUSES:
        return ok("Reference check successful", pending_answer(payment, base_url(request)))
    return ok("Reference check successful", transaction(payment))


@router.get("/transaction/verify/{reference}")
async def verify(reference: str, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    payment = sandbox.payments.get((PROVIDER, reference))
    if payment is None:
        return error(400, "Transaction reference not found")
    return ok("Verification successful", transaction(payment))


@router.post("/transferrecipient", status_code=201)
async def create_recipient(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    kind = body.get("type")
    name = body.get("name")
    account_number = body.get("account_number")
    bank_code = body.get("bank_code")
    currency = str(body.get("currency") or "NGN")
    if kind not in TRANSFER_TYPES:
        return error(400, "Invalid recipient type")
    if not name or not account_number or not bank_code:
        return error(400, "name, account_number and bank_code are required")
    if currency not in wire.WIRE_EXPONENTS[PROVIDER]:
        return error(400, f"Currency {currency} is not supported")
    code = sandbox.token("RCP_", 15)
    created = timestamp(clock.now())
    recipient = {
        "active": True,
        "createdAt": created,
        "currency": currency,
        "domain": "test",
        "id": sandbox.next_number(),
        "integration": INTEGRATION,
        "name": name,
        "recipient_code": code,
        "type": kind,
        "updatedAt": created,
        "is_deleted": False,
        "details": {
            "authorization_code": None,
            "account_number": account_number,
            "account_name": name,
            "bank_code": bank_code,
            "bank_name": str(bank_code).upper(),
        },
    }
    sandbox.recipients[code] = recipient
    return JSONResponse(
        {"status": True, "message": "Transfer recipient created successfully", "data": recipient},
        status_code=201,
    )


@router.post("/transfer")
async def create_transfer(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    recipient = sandbox.recipients.get(str(body.get("recipient", "")))
    if recipient is None:
        return error(400, "Recipient specified is invalid")
    currency = str(body.get("currency") or recipient["currency"])
    amount = as_int(body.get("amount"))
    problem = wire.check(PROVIDER, currency, amount)
    if problem:
        return error(400, problem)
    assert isinstance(amount, int)
    reference = str(body.get("reference") or sandbox.token("TRFREF", 12))
    if any(p.provider == PROVIDER and p.reference == reference for p in sandbox.payouts.values()):
        return error(400, "Transfer reference already exists")
    number = str(recipient["details"]["account_number"])
    scenario = sandbox.scenario(PROVIDER, number)
    if scenario is Scenario.outage:
        return error(503, "Service temporarily unavailable, please try again later")
    if scenario is Scenario.insufficient_funds:
        return error(400, "Your balance is not enough to fulfil this request")
    await sandbox.delay_before(scenario)
    code = sandbox.token("TRF_", 15)
    payout = Payout(
        provider=PROVIDER,
        id=code,
        numeric_id=sandbox.next_number(),
        amount=amount,
        currency=currency,
        status="pending",
        scenario=scenario,
        number=number,
        operator=str(recipient["details"]["bank_code"]),
        request=body,
        created_at=clock.now(),
        reference=reference,
        recipient=recipient,
        transfer_code=code,
        reason=str(body.get("reason") or ""),
    )
    sandbox.payouts[(PROVIDER, code)] = payout
    if sandbox.config.paystack_transfer_otp:
        payout.status = "otp"
        await sandbox.delay_answer(scenario)
        return ok("Transfer requires OTP to continue", transfer_initiated(payout))
    _queue_transfer(sandbox, payout)
    await sandbox.delay_answer(scenario)
    return ok("Transfer has been queued", transfer_initiated(payout))


@router.post("/transfer/finalize_transfer")
async def finalize_transfer(request: Request, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    body = await json_body(request, error)
    payout = sandbox.payouts.get((PROVIDER, str(body.get("transfer_code", ""))))
    if payout is None:
        return error(400, "Transfer not found")
    if payout.status != "otp":
        return error(400, "Transfer is not currently awaiting OTP")
    if str(body.get("otp", "")) != VALID_OTP:
        return error(400, "Invalid OTP")
    payout.status = "pending"
    payout.updated_at = clock.now()
    _queue_transfer(sandbox, payout)
    return ok("Transfer has been queued", transfer_initiated(payout))


@router.get("/transfer/verify/{reference}")
async def verify_transfer(reference: str, sandbox: Sandbox = Depends(guard)) -> JSONResponse:
    for payout in sandbox.payouts.values():
        if payout.provider == PROVIDER and payout.reference == reference:
            return ok("Transfer retrieved", transfer(payout))
    return error(404, "Transfer not found")


def _queue_transfer(sandbox: Sandbox, payout: Payout) -> None:
    succeeded = payout.scenario is not Scenario.declined
    sandbox.later(
        sandbox.config.approval_delay_seconds,
        lambda: complete_transfer(sandbox, payout, succeeded=succeeded),
    )


async def complete_charge(sandbox: Sandbox, payment: Payment, *, succeeded: bool, wait: bool = False) -> None:
    """The customer approved (or refused) a charge: settle it and announce success."""
    if payment.status in ("success", "failed"):
        return
    if not succeeded:
        # Paystack sends no webhook for a failed charge; verification tells.
        payment.status = "failed"
        payment.gateway_response = "Declined by the customer"
        return
    payment.status = "success"
    payment.gateway_response = "Approved"
    payment.paid_at = clock.now()
    if payment.channel == "card" and payment.number:
        payment.authorization_code = sandbox.token("AUTH_", 10)
        sandbox.authorizations[payment.authorization_code] = payment.number
    event = Event(
        PROVIDER,
        "charge.success",
        payment.id,
        {"event": "charge.success", "data": transaction(payment)},
    )
    await sandbox.announce(_webhook_scenario(payment.scenario), event, currency=payment.currency, wait=wait)


async def complete_transfer(sandbox: Sandbox, payout: Payout, *, succeeded: bool) -> None:
    if payout.status in ("success", "failed", "reversed"):
        return
    payout.completed_at = payout.updated_at = clock.now()
    if not succeeded:
        payout.status = "failed"
        payout.failures = "The recipient's wallet could not be credited"
        event = Event(
            PROVIDER,
            "transfer.failed",
            payout.reference,
            {"event": "transfer.failed", "data": transfer(payout)},
        )
        await sandbox.announce(Scenario.success, event, currency=payout.currency)
        return
    payout.status = "success"
    success = Event(
        PROVIDER,
        "transfer.success",
        payout.reference,
        {"event": "transfer.success", "data": transfer(payout)},
    )
    if payout.scenario is Scenario.webhook_out_of_order:
        # The transfer succeeds, is then reversed, and the reversal is heard first.
        payout.status = "reversed"
        reversed_ = Event(
            PROVIDER,
            "transfer.reversed",
            payout.reference,
            {"event": "transfer.reversed", "data": transfer(payout)},
        )
        await sandbox.announce(Scenario.webhook_out_of_order, reversed_, currency=payout.currency, earlier=success)
        return
    await sandbox.announce(_webhook_scenario(payout.scenario), success, currency=payout.currency)


def _webhook_scenario(scenario: Scenario) -> Scenario:
    return scenario if scenario in WEBHOOK_SCENARIOS else Scenario.success


def pending_answer(payment: Payment, sandbox_url: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "reference": payment.id,
        "status": payment.status,
        "display_text": DISPLAY_TEXT.get(payment.status, ""),
    }
    if payment.status in ("pending", "open_url"):
        answer["url"] = f"{sandbox_url}/_sandbox/checkout/{PROVIDER}/{payment.id}"
    return answer


def transaction(payment: Payment) -> dict[str, Any]:
    """A charge as Paystack describes it in answers and webhooks."""
    status = payment.status if payment.status in ("success", "failed") else "ongoing"
    authorization: dict[str, Any] = {
        "channel": payment.channel,
        "reusable": payment.channel == "card",
        "country_code": "CI" if payment.currency == "XOF" else "NG",
        "last4": (payment.number or "")[-4:],
    }
    if payment.channel == "mobile_money":
        authorization["bank"] = (payment.operator or "").upper()
        authorization["brand"] = f"{payment.operator} mobile money"
    else:
        authorization["brand"] = "visa"
    if payment.authorization_code:
        authorization["authorization_code"] = payment.authorization_code
    return {
        "id": payment.numeric_id,
        "domain": "test",
        "status": status,
        "reference": payment.id,
        "amount": payment.amount,
        "requested_amount": payment.amount,
        "currency": payment.currency,
        "channel": payment.channel,
        "gateway_response": payment.gateway_response or "Pending",
        "message": None,
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
        "created_at": payment.created_at.isoformat(),
        "metadata": payment.metadata,
        "fees": None,
        "customer": {
            "email": payment.email,
            "customer_code": f"CUS_{payment.numeric_id}",
            "id": payment.numeric_id,
        },
        "authorization": authorization,
    }


def transfer_initiated(payout: Payout) -> dict[str, Any]:
    """A transfer as initiating or finalising it answers: the recipient by its integer id
    (https://paystack.com/docs/api/transfer/#initiate)."""
    return {
        "transfersessionid": [],
        "transfertrials": [],
        "domain": "test",
        "amount": payout.amount,
        "currency": payout.currency,
        "reference": payout.reference,
        "source": "balance",
        "source_details": None,
        "reason": payout.reason,
        "status": payout.status,
        "failures": payout.failures,
        "transfer_code": payout.transfer_code,
        "titan_code": None,
        "transferred_at": _transferred_at(payout),
        "id": payout.numeric_id,
        "integration": INTEGRATION,
        "request": payout.numeric_id,
        "recipient": payout.recipient["id"],
        "createdAt": timestamp(payout.created_at),
        "updatedAt": timestamp(payout.updated_at or payout.created_at),
    }


def transfer(payout: Payout) -> dict[str, Any]:
    """A transfer as verifying it (and its webhooks) shows it: the recipient in full, and its
    session (https://paystack.com/docs/api/transfer/#verify)."""
    return {
        "amount": payout.amount,
        "createdAt": timestamp(payout.created_at),
        "currency": payout.currency,
        "domain": "test",
        "failures": payout.failures,
        "id": payout.numeric_id,
        "integration": INTEGRATION,
        "reason": payout.reason,
        "reference": payout.reference,
        "source": "balance",
        "source_details": None,
        "status": payout.status,
        "titan_code": None,
        "transfer_code": payout.transfer_code,
        "request": payout.numeric_id,
        "transferred_at": _transferred_at(payout),
        "updatedAt": timestamp(payout.updated_at or payout.created_at),
        "recipient": {
            **payout.recipient,
            "description": "",
            "email": None,
            "metadata": None,
            "isDeleted": payout.recipient["is_deleted"],
        },
        "session": {"provider": None, "id": None},
        "fee_charged": 0,
        "fees_breakdown": None,
        "gateway_response": None,
    }


def _transferred_at(payout: Payout) -> str | None:
    return timestamp(payout.completed_at) if payout.completed_at and payout.status != "failed" else None


def timestamp(moment: datetime) -> str:
    """Paystack's way of writing an instant: UTC to the millisecond, ``2025-08-04T10:32:40.000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
