"""ASGI middleware: request ids, access logs and metrics, the body size limit,
security headers, and the refusal of text PostgreSQL cannot store. Pure ASGI
(no BaseHTTPMiddleware) so streaming bodies are counted as they arrive and
nothing is buffered twice."""

from __future__ import annotations

import email.message
import functools
import json
import re
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog
from fastapi import params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers, QueryParams, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sika.api import problems
from sika.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from sika.core import text

log = structlog.get_logger("sika.access")

REQUESTS = Counter("sika_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "sika_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_MAY_HOLD_UNSTORABLE = re.compile(rb"\x00|\xed[\xa0-\xbf]|\\u(?:0000|[dD][89a-fA-F])")
"""What a JSON body must contain to decode to text PostgreSQL cannot store: a NUL byte, a surrogate
encoded in the bytes (JSON is decoded with ``surrogatepass``), or the escape of either. A body
without any (nearly every one) is not parsed a second time on its way to the route."""

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


_MATCHED = "sika.matched_route"
"""Where the request's scope keeps its match, so the middlewares walk the route table once between them."""


Segments = tuple[str, ...]


@dataclass
class _RouteIndex:
    """One app's routes, found by the leading segments of a request's path."""

    route_count: int
    """The app's routes when it was made: another count (a route added) makes it anew."""
    by_segments: dict[Segments, list[tuple[int, RouteContext]]]
    """The routes (with their place in the app's order) under each leading run of up to
    two literal segments of their path; a route whose path starts with a parameter, or
    that has no path (a host's), is under ``()``, so every request tries it."""
    static_matches: dict[tuple[str, str], tuple[RouteContext, Scope]] = field(default_factory=dict)
    """The match of each (method, path) whose route has no path parameters: the hot
    routes without one (``POST /v1/ledger/transfers``) are then found without a walk."""


_INDEXES: weakref.WeakKeyDictionary[Any, _RouteIndex] = weakref.WeakKeyDictionary()
MAX_STATIC_MATCHES = 1024
"""Bounds ``static_matches``, whatever methods clients make up."""
_INDEXED_SEGMENTS = 2


def _leading(segments: Sequence[str]) -> Segments:
    """Up to two leading segments that a path template names literally."""
    literal = []
    for segment in segments[:_INDEXED_SEGMENTS]:
        if not segment or "{" in segment:
            break
        literal.append(segment)
    return tuple(literal)


def _index_of(app: Any) -> _RouteIndex:
    routes = getattr(app, "routes", [])
    index = _INDEXES.get(app) if app is not None else None
    if index is not None and index.route_count == len(routes):
        return index
    by_segments: dict[Segments, list[tuple[int, RouteContext]]] = {}
    for place, context in enumerate(iter_route_contexts(routes)):
        # A route's pattern and a mount's prefix are anchored at the start of the path:
        # only a path that begins with the same literal segments can match them.
        path = context.path if isinstance(context.path, str) else ""
        by_segments.setdefault(_leading(path.split("/")[1:]), []).append((place, context))
    index = _RouteIndex(route_count=len(routes), by_segments=by_segments)
    if app is not None:
        _INDEXES[app] = index
    return index


def _matched_route(scope: Scope) -> tuple[RouteContext, Scope] | None:
    """The route the app will serve this request with, and what matching it
    adds to the scope (its ``path_params``)."""
    if _MATCHED in scope:
        found: tuple[RouteContext, Scope] | None = scope[_MATCHED]
        return found
    index = _index_of(scope.get("app"))
    lookup = (scope.get("method", ""), scope.get("root_path", "") + scope.get("path", ""))
    found = index.static_matches.get(lookup)
    if found is None:
        found = _walk(index, scope)
        if found is not None and not found[1].get("path_params") and len(index.static_matches) < MAX_STATIC_MATCHES:
            index.static_matches[lookup] = found
    scope[_MATCHED] = found
    return found


def _walk(index: _RouteIndex, scope: Scope) -> tuple[RouteContext, Scope] | None:
    """The first route, in the app's order, that matches fully: tried first among
    those under the path's leading literal segments, the others being unable to;
    a path none of them serves tries every route, as the app itself does."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    # Routes match the path below the root path (a proxy's prefix), as Starlette reads it.
    below_root = path[len(root) :] if root and path.startswith(root + "/") else path
    segments = below_root.split("/")[1 : 1 + _INDEXED_SEGMENTS]
    candidates = [
        entry for size in range(len(segments) + 1) for entry in index.by_segments.get(tuple(segments[:size]), ())
    ]
    found = _first_full_match(sorted(candidates, key=lambda entry: entry[0]), scope)
    if found is None:
        every = (entry for entries in index.by_segments.values() for entry in entries)
        found = _first_full_match(sorted(every, key=lambda entry: entry[0]), scope)
    return found


def _first_full_match(entries: Sequence[tuple[int, RouteContext]], scope: Scope) -> tuple[RouteContext, Scope] | None:
    for _, route in entries:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            return (route, child_scope)
    return None


def _route_template(scope: Scope) -> str:
    """The route's path template, so metrics do not explode with ids."""
    matched = _matched_route(scope)
    return str(matched[0].path) if matched is not None else "unmatched"


class RequestContextMiddleware:
    """Takes or makes the request id, binds it to every log line, echoes it,
    adds security headers, and records the access log and metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID_PATTERN.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.append((b"x-request-id", request_id.encode()))
                raw.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = raw
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            REQUESTS.labels(method=method, route=route, status=str(status_holder["status"])).inc()
            LATENCY.labels(method=method, route=route).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope.get("path"),
                route=route,
                status=status_holder["status"],
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class BodySizeLimitMiddleware:
    """Answers 413 when a body is larger than the limit, whether it says so
    in Content-Length or streams past it."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, larger: tuple[tuple[re.Pattern[str], int], ...] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = larger
        """Paths (a full match) whose bodies may be larger, with their own limit: uploads."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next((size for pattern, size in self.larger if pattern.fullmatch(path)), self.max_body_bytes)
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, max_body_bytes: int) -> None:
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            await self._refuse(scope, send, max_body_bytes)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            # Frameworks swallow exceptions raised while reading a body, so on overflow we answer
            # 413 here and tell the app the client went away; whatever it sends later is dropped.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body_bytes:
                    refused = True
                    await self._refuse(scope, send, max_body_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send, max_body_bytes: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        body = json.dumps(
            {
                "type": PROBLEM_TYPE_BASE + "payload_too_large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"The request body exceeds {max_body_bytes} bytes.",
                "code": "payload_too_large",
                "request_id": state.get("request_id"),
                "instance": scope.get("path"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def takes_raw_body(endpoint: Endpoint) -> Endpoint:
    """Marks a route that reads its body as bytes, exactly as sent (a
    provider's signed webhook): ``TextGuardMiddleware`` leaves the body alone
    and the route must make what it stores of it storable itself."""
    endpoint.sika_raw_body = True  # type: ignore[attr-defined]
    return endpoint


class TextGuardMiddleware:
    """Refuses a request whose path parameters, query parameters, or JSON or
    form body (nested objects, their keys too) hold text PostgreSQL cannot
    store (``sika.core.text``): one 422 ``invalid_text`` naming every such
    field, before any route, authentication or transaction runs. One place for
    every route, present and future, instead of a check per field; what a
    database refuses anyway is mapped in ``sika.api.problems``.

    It also answers 415 ``unsupported_media_type`` to a body sent to a JSON
    route without a JSON Content-Type, which the app would otherwise read as
    bytes and refuse field by field ("Input should be a valid dictionary")."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matched = _matched_route(scope)
        if matched is not None and _refuses_media_type(matched[0], scope):
            await problems.domain_problem(Request(scope), problems.UnsupportedMediaType())(scope, receive, send)
            return
        fields = [*_path_fields(scope, matched), *_query_fields(scope)]
        kind = None if matched is not None and _takes_raw_body(matched[0]) else _body_kind(scope)
        if kind is not None:
            body = await _read_body(receive)
            if body is None:
                return  # the client left, or the body size limit has answered already
            receive = _replaying(body, receive)
            fields.extend(await _body_fields(scope, kind, body))
        if not fields:
            await self.app(scope, receive, send)
            return
        response = problems.domain_problem(Request(scope), text.InvalidText(errors=fields))
        await response(scope, receive, send)


Field = dict[str, str]


def _field(location: str, problem: str) -> Field:
    """One entry of ``errors``, shaped as a validation error's."""
    return {"field": location, "message": problem, "type": text.InvalidText.code}


def _takes_raw_body(route: RouteContext) -> bool:
    original = route.original_route
    return isinstance(original, APIRoute) and getattr(original.endpoint, "sika_raw_body", False)


def _refuses_media_type(route: RouteContext, scope: Scope) -> bool:
    """A JSON route (not a form's, not a raw body's) sent a body whose
    Content-Type is missing or not JSON: what FastAPI, strict about the type,
    would not parse as JSON; or an upload route sent anything but a multipart
    form. A request without a body is left to the route."""
    original = route.original_route
    if not isinstance(original, APIRoute) or original.body_field is None or _takes_raw_body(route):
        return False
    headers = Headers(scope=scope)
    has_body = headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers
    if isinstance(original.body_field.field_info, params.File):
        # An upload route reads multipart/form-data only.
        return has_body and _body_kind(scope) != "form"
    if isinstance(original.body_field.field_info, params.Form):
        return False
    return has_body and (not headers.get("content-type") or _body_kind(scope) != "json")


def _path_fields(scope: Scope, matched: tuple[RouteContext, Scope] | None) -> list[Field]:
    params: dict[str, Any] = matched[1].get("path_params", {}) if matched is not None else {}
    fields = [
        _field(f"path.{name}", problem)
        for name, value in params.items()
        if isinstance(value, str) and (problem := text.problem(value))
    ]
    # A path no route names parameters in (or a mounted app's) is still refused whole.
    whole = text.problem(str(scope.get("path", "")))
    return fields or ([_field("path", whole)] if whole else [])


def _query_fields(scope: Scope) -> list[Field]:
    fields = []
    for name, value in QueryParams(scope.get("query_string", b"")).multi_items():
        if problem := text.problem(name):
            fields.append(_field("query", f"A parameter's name: {problem}"))
        elif problem := text.problem(value):
            fields.append(_field(f"query.{name}", problem))
    return fields


BodyKind = Literal["json", "form"]


def _body_kind(scope: Scope) -> BodyKind | None:
    """How the app will read the body: as FastAPI reads a declared body (JSON
    when the type says so or says nothing), or as a form."""
    return _kind_of(Headers(scope=scope).get("content-type"))


@functools.lru_cache(maxsize=64)
def _kind_of(content_type: str | None) -> BodyKind | None:
    """Kept for the few types clients send (``application/json`` nearly always),
    each asked twice a request: reading one takes a parsed email header."""
    if not content_type:
        return "json"
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json")):
        return "json"
    if message.get_content_type() in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return "form"
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (the body size limit, outside, bounds it), or None if the client left."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then listens for a disconnect."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _body_fields(scope: Scope, kind: BodyKind, body: bytes) -> list[Field]:
    """Unreadable bodies are left to the app, which answers them as it always does."""
    if not body:
        return []
    if kind == "json":
        if _MAY_HOLD_UNSTORABLE.search(body) is None:
            return []
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return []
        return [_field(".".join(map(str, location)), problem) for location, problem in _json_problems(document)]
    try:
        async with Request(scope, _replaying(body, _nothing_more)).form() as form:
            return [
                _field(f"body.{text.storable(name)}", problem)
                for name, value in form.multi_items()
                if (problem := text.problem(name) or text.problem(_form_text(value)))
            ]
    except (HTTPException, MultiPartException):
        return []


def _form_text(value: str | UploadFile) -> str:
    return value if isinstance(value, str) else value.filename or ""


async def _nothing_more() -> Message:
    return {"type": "http.disconnect"}


Location = tuple[str | int, ...]


def _json_problems(document: object) -> Iterator[tuple[Location, str]]:
    """Every string of a JSON document that cannot be stored, where pydantic
    would place it (``body.metadata.note``; a key as ``….<key>.[key]``).
    Iterative: a document deep enough to parse must not exhaust the stack here."""
    pending: deque[tuple[Location, object]] = deque([(("body",), document)])
    while pending:
        location, value = pending.popleft()
        if isinstance(value, str):
            if problem := text.problem(value):
                yield location, problem
        elif isinstance(value, dict):
            for key, item in value.items():
                named = (*location, text.storable(key))
                if problem := text.problem(key):
                    yield (*named, "[key]"), problem
                pending.append((named, item))
        elif isinstance(value, list):
            pending.extend(((*location, index), item) for index, item in enumerate(value))
