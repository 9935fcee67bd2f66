"""The OpenAPI document as the server behaves, completed in one place from
what each route declares, so it cannot drift from the code.

FastAPI's document knows each route's parameters and bodies, but not what
Sika's dependencies do: who may call a route (``deps.authorize``: its scopes,
whether party tokens are taken), that a POST claims an Idempotency-Key
(``idempotency.idempotency_claim``), and which refusals every route can answer
with, all as ``application/problem+json`` (``problems``). ``describe`` reads
the marks the route-walk test reads (``sika_scopes``, ``sika_allow_party``,
``sika_idempotency_claim``) and adds to every operation its security and
scopes, the Idempotency-Key header, a stable ``operationId`` (the route's
name), and its error answers, 422 included, in Sika's own shape rather than
FastAPI's ``HTTPValidationError``. ``/metrics`` is Prometheus text, not JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST

from sika.api import idempotency, pagination, problems
from sika.api.unit_of_work import PhasedRoute
from sika.auth.scopes import Scope
from sika.idempotency.service import MAX_KEY_LENGTH

API_KEY = "apiKey"
PARTY_TOKEN = "partyToken"
PROBLEM = "Problem"
METRICS_PATH = "/metrics"
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_SCHEMES: dict[str, Any] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "API key",
        "description": (
            "An API key, sent as `Authorization: Bearer <key>`. Each operation names the scopes that may call it "
            "(`x-sika-scopes`); an admin key may call every one."
        ),
    },
    PARTY_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A party token (`POST /v1/parties/{party_id}/tokens`), sent as `Authorization: Bearer <token>`: "
            "it acts for its party only, on the operations that say so (`x-sika-party-token`)."
        ),
    },
}

IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the first request with this key runs, and a retry with the same key and body gets "
        "the first answer back (with `Idempotent-Replayed: true`) instead of running again. The same key with "
        "another request is refused (422 `idempotency_key_reused`); while the first is running, 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
}

PROBLEM_SCHEMAS: dict[str, Any] = {
    PROBLEM: {
        "type": "object",
        "description": "An error, as RFC 9457 problem details; `code` is stable, `detail` says what to change.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "examples": [f"{problems.PROBLEM_TYPE_BASE}not_found"]},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "examples": ["not_found"]},
            "request_id": {"type": ["string", "null"]},
            "instance": {"type": "string"},
            "detail_en": {"type": "string", "description": "The English detail, when `detail` is in French."},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemField"}},
        },
        "additionalProperties": True,
    },
    "ProblemField": {
        "type": "object",
        "description": "One refused field of a request: where it is (`body.amount_minor`) and why.",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}},
    },
}

REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id (the one sent in X-Request-ID, or a new one): quote it when reporting a problem.",
    "schema": {"type": "string"},
}
REPLAYED_HEADER: dict[str, Any] = {
    "description": "`true` when this is the answer stored under the Idempotency-Key, sent again.",
    "schema": {"type": "string", "enum": ["true"]},
}

STATUS_TITLES = {
    400: "Bad request: the body is not valid JSON",
    401: "Not authenticated: no credentials, or credentials that do not hold",
    403: "Permission denied: these credentials may not call this operation",
    404: "Not found: no such resource (or not one of the caller's)",
    409: "Conflict: the resource's state refuses this, or a request with this Idempotency-Key is still running",
    413: "Payload too large",
    415: "Unsupported media type: send the body with Content-Type: application/json",
    422: "Validation failed: see `errors` for each field, or `code` for the rule refused",
    428: "Idempotency-Key required: this operation moves money, so a retry must not be able to move it twice",
    429: "Too many requests: retry after `Retry-After` seconds",
    503: "Service unavailable: busy, or a payment provider cannot be reached; retry later",
}
"""The error answers, each as problem+json."""
CURSOR_REFUSED = "Bad request: the pagination cursor is not one this API gave (`invalid_cursor`)"
CURSOR_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": pagination.MAX_CURSOR_LENGTH,
    "pattern": "^[A-Za-z0-9_-]+$",
    "description": "The `next_cursor` of the previous page, exactly as given (an opaque URL-safe token).",
}
"""What ``pagination.decode_int_cursor`` takes; FastAPI's own says any string, or null."""


@dataclass(frozen=True)
class Declared:
    """What a route's dependencies declare about it."""

    name: str
    """Its function's name: its ``operationId``, which moves with neither its path nor its method."""
    scopes: frozenset[str] | None
    """Those that may call it (admin always may); None for a public route."""
    allow_party: bool
    claims_idempotency: bool
    requires_idempotency: bool
    """It moves money: without an Idempotency-Key, 428 (``idempotency_claim(..., required=True)``)."""
    phased: bool
    """It calls a payment provider (``PhasedRoute``), which may be unreachable."""
    raw_body: bool


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def declarations(app: FastAPI) -> dict[tuple[str, str], Declared]:
    """Each API route's declaration, by method and path as the document names them."""
    found = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not isinstance(context.dependant, Dependant):
            continue
        calls = list(_calls(context.dependant))
        scopes = next((frozenset(call.sika_scopes) for call in calls if hasattr(call, "sika_scopes")), None)
        declared = Declared(
            name=str(context.name),
            scopes=scopes,
            allow_party=any(getattr(call, "sika_allow_party", False) for call in calls),
            claims_idempotency=any(getattr(call, "sika_idempotency_claim", False) for call in calls),
            requires_idempotency=any(getattr(call, "sika_idempotency_required", False) for call in calls),
            phased=isinstance(route, PhasedRoute),
            raw_body=bool(getattr(route.endpoint, "sika_raw_body", False)),
        )
        for method in context.methods or ():
            found[(method, str(context.path))] = declared
    return found


def _statuses(method: str, operation: dict[str, Any], declared: Declared) -> set[int]:
    """The error statuses this operation can answer with."""
    statuses = {429}  # every route is rate limited: per key, or per address for the public ones
    content = operation.get("requestBody", {}).get("content", {})
    # A multipart upload (proofs of delivery) is refused as a JSON body is: 415 under another type.
    takes_json = "application/json" in content or "multipart/form-data" in content
    if declared.scopes is not None:
        statuses |= {401, 403, 404, 422}  # 404: a resource named in the path or body; 422: a domain rule
    places = {parameter["in"] for parameter in operation.get("parameters", [])}
    if "path" in places:
        statuses |= {404, 422}
    if "query" in places:
        statuses.add(422)
    if _takes_cursor(operation):
        statuses.add(400)
    if takes_json:
        statuses |= {400, 413, 415, 422}
    if declared.raw_body:
        statuses |= {400, 413}
    if declared.claims_idempotency:
        statuses |= {409, 422}
    if declared.requires_idempotency:
        statuses.add(428)
    if declared.scopes is not None and method in MUTATING:
        statuses |= {409, 503}  # 503: the ledger is busy
    if declared.phased:
        statuses.add(503)
    return statuses


def _takes_cursor(operation: dict[str, Any]) -> bool:
    """A list's page (``pagination.Page``): a cursor it did not give is refused, 400 ``invalid_cursor``."""
    return any(p["in"] == "query" and p["name"] == "cursor" for p in operation.get("parameters", []))


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description or STATUS_TITLES[status],
        "content": {problems.PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM}"}}},
    }
    if status == 429:
        answer["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
        }
    return answer


def _security(operation: dict[str, Any], declared: Declared) -> None:
    if declared.scopes is None:
        operation["security"] = []
        return
    # Admin holds every scope; the roles are listed in Scope's order, as refusals name them.
    roles = [scope.value for scope in Scope if scope.value in declared.scopes or scope is Scope.admin]
    operation["security"] = [{API_KEY: roles}, *([{PARTY_TOKEN: []}] if declared.allow_party else [])]
    operation["x-sika-scopes"] = roles
    operation["x-sika-party-token"] = declared.allow_party


def _complete_operation(method: str, operation: dict[str, Any], declared: Declared) -> None:
    # FastAPI's ids (``create_party_v1_parties_post``) change with the path; client generators name methods by them.
    operation["operationId"] = declared.name
    _security(operation, declared)
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] == "cursor":
            parameter["schema"] = dict(CURSOR_SCHEMA)
    if declared.claims_idempotency:
        required = {"required": True} if declared.requires_idempotency else {}
        operation.setdefault("parameters", []).append({**IDEMPOTENCY_PARAMETER, **required})
    responses: dict[str, Any] = operation.setdefault("responses", {})
    # A route's own error answers (a description) are problems too.
    declared_errors = {int(status) for status in responses if int(status) >= 400}
    for status in sorted(_statuses(method, operation, declared) | declared_errors):
        existing = responses.get(str(status))
        if existing is None or status == 422 or "content" not in existing:
            # FastAPI's 422 is its own HTTPValidationError; Sika answers every error as problem+json.
            kept = existing.get("description") if existing is not None and status != 422 else None
            if kept is None and status == 400 and "requestBody" not in operation and _takes_cursor(operation):
                kept = CURSOR_REFUSED
            responses[str(status)] = _problem(status, kept)
    for answer in responses.values():
        headers = answer.setdefault("headers", {})
        headers["X-Request-ID"] = REQUEST_ID_HEADER
        if declared.claims_idempotency:  # a stored domain refusal is replayed as well as a success
            headers[idempotency.REPLAYED_HEADER] = REPLAYED_HEADER


def complete(document: dict[str, Any], declared: dict[tuple[str, str], Declared]) -> None:
    """Add to FastAPI's ``document`` what the routes declare (in place)."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    schemas.update(PROBLEM_SCHEMAS)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            found = declared.get((method.upper(), path))
            if found is not None:
                _complete_operation(method.upper(), operation, found)
    metrics = document["paths"].get(METRICS_PATH, {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"].update(
            description="The Prometheus metrics, in its text exposition format.",
            content={METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}},
        )
    # FastAPI's validation error shapes, unless something still refers to them.
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)


def describe(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``, ``/docs``) answer the completed document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate(), declarations(app))
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
