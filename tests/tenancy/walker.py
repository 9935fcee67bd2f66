"""The isolation walker: every operation of an app's OpenAPI document, called by
each of one platform's callers with another platform's ids in its path, in the
body fields and query filters that name an object; it returns what leaked.

What counts as a leak, for each call:

- a 5xx (a route that breaks on another platform's id is one nobody checked);
- an answer carrying any of the other platform's ids the request did not send;
- a 2xx to a request that named the other platform's object (in its path, or in
  the body of a write): acting on it, even silently;
- an answer that differs (status or problem code) from the one the same call
  gets with ids of the same shape that exist nowhere: the caller could tell the
  other platform's objects from nothing, so a 403 or 409 is fine only when it is
  what a made-up id gets too (a scope refusal, which comes before any look-up);
- any status but 2xx, 403 and 404 (a 422 would mean the walk sent a body the
  route never got past, and so proved nothing about the route).

A list route called with no foreign id in its path answers 200 with none of the
other platform's ids anywhere in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.operations import Bodies, Operation, operations, url
from tests.support.payments import OTP, SUCCESS_PHONE

Headers = dict[str, str]

PUBLIC = {
    "GET /health": "liveness: public, names nothing",
    "GET /ready": "readiness: public, names nothing",
    "GET /metrics": "Prometheus metrics: public (per-address limited), aggregates with no ids",
    "POST /v1/webhooks/{provider}": "a provider's webhook: authenticated by the provider's signature, not by a key",
}
"""Operations the walk skips, and why: none takes a caller's credentials."""

ALLOWED_REFUSALS = frozenset({403, 404})
"""404: another platform's object does not exist for the caller. 403: the route
refuses this caller before looking anything up (a scope it lacks, a party token
on a key-only route), which the comparison with made-up ids confirms."""

VALID_FIELDS: dict[str, Any] = {
    "amount_minor": 100,
    "code": "walk",
    "country": "CI",
    "currency": "XOF",
    "default_currency": "XOF",
    "display_name": "Walker",
    "email": "walker@example.ci",
    "kind": "escrow",
    "lifetime_seconds": None,
    "name": "walker",
    "otp": OTP,
    "phone": SUCCESS_PHONE,
    "reason": "walk",
    "recipient_name": "Walker",
    "return_url": None,
    "scopes": ["read"],
    "timeout_seconds": None,
    "expires_at": "2100-01-01T00:00:00Z",
    "label_en": "Walk",
    "label_fr": "Marche",
    "reference": "walk",
    "url": "http://127.0.0.1:9/walk",
    "event_types": ["*"],
    "since": None,
    "total_minor": 100,
    "instalments": [{"due_on": "2100-01-01", "amount_minor": 100}],
    "schedule": None,
    "percent": None,
    "amount_off_minor": None,
    "plan_ids": None,
}
"""Values that pass validation, so a body reaches the route's own checks."""

BODY_OBJECTS = {
    "party_id": "party_id",
    "wallet_id": "wallet_id",
    "destination_wallet_id": "wallet_id",
    "debit_account_id": "account_id",
    "credit_account_id": "target_account",
    "platform_id": "platform_id",
    "client_party_id": "party_id",
    "beneficiary_party_id": "party_id",
    "sender_party_id": "party_id",
    "category_id": "category_id",
    "merchant_id": "merchant_id",
    "payee_id": "payee_id",
    "source_wallet_id": "wallet_id",
    "recipient_party_id": "recipient_party_id",
    "payer_party_id": "party_id",
    "payee_party_id": "recipient_party_id",
}
"""Body fields naming an object, and which of the other platform's objects they get."""

QUERY_OBJECTS = {
    "party_id": "party_id",
    "wallet_id": "wallet_id",
    "entity_id": "collection_id",
    "owner_id": "party_id",
    "reference": "payout_id",
    "q": "collection_id",
}
"""Query filters naming an object: a list filtered on another platform's object is empty."""

NEEDS_QUERY = {"q"}
"""Filters a route cannot go without (search must be told what to look for): not walked unfiltered."""

ALTERNATIVES = {
    "wallet_id": ("second_wallet",),
    "account_id": ("target_account", "wallet_account", "wallet_holds_account", "funding_account"),
    "transfer_id": ("posted_transfer", "hold_id", "payout_hold"),
    "hold_id": ("payout_hold",),
}
"""Path parameters walked again with each further object of the kind they name."""


@dataclass(frozen=True)
class Leak:
    caller: str
    operation: str
    """``METHOD /path/{template}``."""
    sent: str
    status: int
    why: str

    def __str__(self) -> str:
        return f"{self.caller}: {self.sent} -> {self.status}: {self.why}"


@dataclass(frozen=True)
class Walked:
    leaks: list[Leak]
    calls: int
    """Calls made with the other platform's ids (their made-up twins not counted)."""
    operations: int
    writes: list[str]
    """``caller: operation`` of every write a call or its twin made (a 2xx to
    anything but GET): what the walk itself may have changed, on the caller's side."""


def ghost(value: str) -> str:
    """An id of the same shape as ``value`` (its last character changed, within the
    alphabet of Sika's ids) that names nothing."""
    return value[:-1] + ("a" if value[-1] != "a" else "b")


@dataclass(frozen=True)
class Call:
    operation: Operation
    path: str
    query: dict[str, str]
    body: Any
    sent: frozenset[str]
    """The other platform's ids this call names."""
    names_in_path: bool

    def twin(self) -> Call:
        """The same call with every foreign id replaced by one that exists nowhere."""
        text = json.dumps([self.path, self.query, self.body])
        for value in sorted(self.sent, key=len, reverse=True):
            text = text.replace(value, ghost(value))
        path, query, body = json.loads(text)
        return Call(self.operation, path, query, body, frozenset(), self.names_in_path)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.operation.method} {self.path}{'?' + query if query else ''}"


def calls(app: FastAPI, operation: Operation, objects: dict[str, str]) -> Iterator[Call]:
    """The calls of ``operation`` naming ``objects`` (the other platform's, by kind):
    once with the main object of each path parameter, once per further object; a
    list filtered on an object is also walked unfiltered."""
    fill = {**objects, "provider": "paystack", "number": "1"}
    known = {**VALID_FIELDS, **{field: objects[kind] for field, kind in BODY_OBJECTS.items()}}
    # An escrow whose one milestone adds up to its amount, so its creation reaches the party look-up.
    known["milestones"] = [{"title": "walk", "amount_minor": VALID_FIELDS["amount_minor"]}]
    # A journal entry: one transfer between the other platform's two accounts.
    known["transfers"] = [
        {**{field: known[field] for field in ("amount_minor", "code", "currency")}, **_accounts(objects)}
    ]
    body = Bodies(app, known=known).example(operation.body) if operation.body is not None else None
    query = {name: objects[kind] for name, kind in QUERY_OBJECTS.items() if name in operation.query_params}
    variants = [(fill, query)]
    variants += [
        ({**fill, name: objects[other]}, query)
        for name in operation.path_params
        for other in ALTERNATIVES.get(name, ())
    ]
    variants += [(fill, {})] if query and not NEEDS_QUERY & set(query) else []
    foreign = set(objects.values())
    for values, filters in variants:
        path = url(operation, values)
        named = {v for v in foreign if v in json.dumps([path, filters, body])}
        yield Call(operation, path, filters, body, frozenset(named), bool(operation.path_params))


def _accounts(objects: dict[str, str]) -> dict[str, str]:
    return {field: objects[kind] for field, kind in BODY_OBJECTS.items() if field.endswith("_account_id")}


async def send(client: httpx.AsyncClient, call: Call, headers: Headers) -> httpx.Response:
    extra = {"Idempotency-Key": str(uuid.uuid4())} if call.operation.method == "POST" else {}
    return await client.request(
        call.operation.method,
        call.path,
        params=call.query,
        json=call.body if call.operation.body is not None else None,
        headers={**headers, **extra},
    )


def _code(response: httpx.Response) -> object:
    try:
        return response.json().get("code") if response.status_code >= 400 else None
    except ValueError:
        return None


def judge(call: Call, answer: httpx.Response, twin: httpx.Response, foreign: set[str]) -> str | None:
    """Why ``answer`` leaks, or None (``twin``: the same call's answer with made-up ids)."""
    status = answer.status_code
    if status >= 500:
        return "server error"
    shown = sorted(value for value in foreign - call.sent if value in answer.text)
    if shown:
        return f"answers with the other platform's {', '.join(shown)}"
    ok = 200 <= status < 300
    writes = call.operation.method != "GET"
    if ok and call.sent and (call.names_in_path or writes):
        return "accepted a request naming the other platform's objects"
    if (status, _code(answer)) != (twin.status_code, _code(twin)):
        return f"answers {status} {_code(answer)} where an id that exists nowhere gets {twin.status_code} {_code(twin)}"
    if not ok and status not in ALLOWED_REFUSALS:
        return f"answers {status} {_code(answer)}: the route was never reached ({answer.text[:600]})"
    return None


async def walk(app: FastAPI, client: httpx.AsyncClient, callers: dict[str, Headers], objects: dict[str, str]) -> Walked:
    """Every operation of ``app``'s document but ``PUBLIC``, by every caller, naming
    ``objects`` (the other platform's ids by kind: ``party_id``, ``second_wallet``…)."""
    leaks: list[Leak] = []
    writes: list[str] = []
    walked = [operation for operation in operations(app) if str(operation) not in PUBLIC]
    count = 0
    foreign = set(objects.values())
    for operation in walked:
        for call in calls(app, operation, objects):
            for caller, headers in callers.items():
                answer = await send(client, call, headers)
                twin = await send(client, call.twin(), headers)
                count += 1
                if operation.method != "GET":
                    writes.extend(f"{caller}: {operation}" for done in (answer, twin) if done.is_success)
                why = judge(call, answer, twin, foreign)
                if why is not None:
                    leaks.append(Leak(caller, str(operation), str(call), answer.status_code, why))
    return Walked(leaks=leaks, calls=count, operations=len(walked), writes=writes)
