"""The order routes are walked in. FastAPI finds a request's route by trying
each route in turn (``sika.app.api_routers``): no path may be served by two
routes, so that the order decides only how soon a route is found, and the
routes platforms call most are found first. The middlewares find a request's
route once for the app (``sika.api.middleware``), by the leading segments of its
path: the route they find is the one the full walk finds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match, compile_path
from starlette.types import Scope

from sika.api import middleware
from tests.support.asgi import http_scope
from tests.support.routes import api_routes

HOT_ROUTES = (
    ("POST", "/v1/ledger/transfers"),
    ("POST", "/v1/webhooks/{provider}"),
    ("POST", "/v1/wallets/{wallet_id}/holds"),
    ("POST", "/v1/holds/{hold_id}/capture"),
)
FOUND_WITHIN = 16
"""Routes tried, at most, before a hot one is found (the API has about 130): each
is the first of its router, and the routers of the others come before its own."""


def _sample(path: str) -> str:
    """A path the template serves: each parameter filled with a value no static segment has."""
    return re.sub(r"\{[^}]+\}", "sample_0", path)


def test_no_path_is_served_by_two_routes(app: FastAPI) -> None:
    routes = api_routes(app.routes)
    assert len(routes) > 100
    shared = [
        f"{sorted(a.methods & b.methods)} {a.path} is also {b.path}"
        for a in routes
        for b in routes
        if a is not b and a.methods & b.methods and compile_path(b.path)[0].match(_sample(a.path))
    ]
    assert shared == []


def test_the_hot_routes_are_walked_first(app: FastAPI) -> None:
    walked = [(method, route.path) for route in api_routes(app.routes) for method in sorted(route.methods)]
    for hot in HOT_ROUTES:
        assert walked.index(hot) < FOUND_WITHIN, hot


def test_the_probes_and_the_reference_pages_are_walked_after_the_api(app: FastAPI) -> None:
    """They serve no path under ``/v1``: before it, every request of the API tried them first."""
    paths = [context.path or "" for context in iter_route_contexts(app.routes)]
    last_of_the_api = max(place for place, path in enumerate(paths) if path.startswith("/v1/"))
    for page in ("/health", "/ready", "/metrics", "/docs", "/redoc"):
        assert paths.index(page) > last_of_the_api, page


def _walked(app: FastAPI, scope: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """What trying every route in order finds: its path template and path parameters."""
    for context in iter_route_contexts(app.routes):
        match, child_scope = context.matches(scope)
        if match is Match.FULL:
            return context.path, child_scope.get("path_params", {})
    return None, {}


def _found(app: FastAPI, scope: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    matched = middleware._matched_route({**scope, "app": app})
    return (matched[0].path, matched[1].get("path_params", {})) if matched is not None else (None, {})


def test_the_middlewares_find_the_route_the_walk_finds(app: FastAPI) -> None:
    paths = [(method, _sample(route.path)) for route in api_routes(app.routes) for method in sorted(route.methods)]
    # Beside the API's: its pages and mounts, a path with a parameter first, a trailing slash, unknown paths.
    paths += [("GET", path) for path in ("/", "/health", "/health/", "/dashboard", "/dashboard/login", "/docs")]
    paths += [("GET", "/v1"), ("GET", "/v1/"), ("GET", "/nowhere/at/all"), ("DELETE", "/v1/ledger/transfers")]
    for method, path in paths:
        for root_path in ("", "/behind/a/proxy"):
            scope = {**http_scope(method, root_path + path, []), "root_path": root_path}
            assert _found(app, scope) == _walked(app, scope), (method, root_path + path)
    served = [_found(app, http_scope(method, path, []))[0] for method, path in paths]
    assert served.count(None) < len(paths) // 10


def test_a_path_with_parameters_is_found_among_few_routes(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not by trying the routes before it: a capture's path tries those under ``/v1/holds`` only, once."""
    tried: list[int] = []
    first_full_match = middleware._first_full_match

    def counting(entries: Sequence[tuple[int, RouteContext]], scope: Scope) -> tuple[RouteContext, Scope] | None:
        tried.append(len(entries))
        return first_full_match(entries, scope)

    monkeypatch.setattr(middleware, "_first_full_match", counting)
    routes = api_routes(app.routes)
    for method, path, prefix in (
        ("POST", "/v1/holds/hold_0/capture", "/v1/holds"),
        ("POST", "/v1/webhooks/paystack", "/v1/webhooks"),
    ):
        tried.clear()
        assert _found(app, http_scope(method, path, []))[0] is not None
        under_prefix = [route for route in routes if route.path.startswith(prefix)]
        assert tried == [len(under_prefix)], path
        assert len(under_prefix) < len(routes) // 4
