"""ASGI middleware: request ids, access logs and metrics, the body size limit
and security headers. Pure ASGI (no BaseHTTPMiddleware) so streaming bodies
are counted as they arrive and nothing is buffered twice."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from fastapi.routing import iter_route_contexts
from prometheus_client import Counter, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sika.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE

log = structlog.get_logger("sika.access")

REQUESTS = Counter("sika_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "sika_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


def _route_template(scope: Scope) -> str:
    """The route's path template, so metrics do not explode with ids."""
    app = scope.get("app")
    routes = getattr(app, "routes", [])
    for route in iter_route_contexts(routes):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(route.path)
    return "unmatched"


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

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, send)
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
                if received > self.max_body_bytes:
                    refused = True
                    await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        state: dict[str, Any] = scope.get("state", {})
        body = json.dumps(
            {
                "type": PROBLEM_TYPE_BASE + "payload_too_large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"The request body exceeds {self.max_body_bytes} bytes.",
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
