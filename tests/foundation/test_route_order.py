"""The order routes are walked in. FastAPI finds a request's route by trying
each route in turn (``sika.app.api_routers``): no path may be served by two
routes, so that the order decides only how soon a route is found, and the
routes platforms call most are found first."""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.routing import compile_path

from tests.support.routes import api_routes

HOT_ROUTES = (
    ("POST", "/v1/ledger/transfers"),
    ("POST", "/v1/webhooks/{provider}"),
    ("POST", "/v1/wallets/{wallet_id}/holds"),
    ("POST", "/v1/holds/{hold_id}/capture"),
)
FOUND_WITHIN = 40
"""Routes tried, at most, before a hot one is found (the API has about 130)."""


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
