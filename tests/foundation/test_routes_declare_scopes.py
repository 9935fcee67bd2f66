"""Every route of the app declares who may call it (the money rules in docs/architecture.md), and
every POST the claim of its Idempotency-Key, made for the caller the route admits."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.support.routes import Route, api_routes

# The few routes anyone may call, by name. Adding one here is a decision to review.
PUBLIC_ROUTES = {
    "health",
    "ready",
    "metrics",
    "receive_webhook",
}


def _declared_scopes(route: Route) -> frozenset[str] | None:
    for call in route.dependency_calls():
        scopes = getattr(call, "sika_scopes", None)
        if scopes is not None:
            return frozenset(scopes)
    return None


def _scope_checks(route: Route) -> set[Any]:
    return {call for call in route.dependency_calls() if hasattr(call, "sika_scopes")}


def test_every_route_declares_its_scopes(app: FastAPI) -> None:
    undeclared = []
    for route in api_routes(app.routes):
        if route.name in PUBLIC_ROUTES:
            assert route.marked("sika_public"), f"public route {route.name} must be rate limited per address"
            continue
        scopes = _declared_scopes(route)
        if not scopes:
            undeclared.append(f"{sorted(route.methods)} {route.path} ({route.name})")
    assert undeclared == []


def test_the_walk_finds_the_routes(app: FastAPI) -> None:
    """Guards the test above against walking nothing."""
    routes = api_routes(app.routes)
    assert len(routes) >= 8
    assert any(_declared_scopes(r) == frozenset({"admin"}) for r in routes)


def test_every_mutating_post_declares_its_idempotency_claim(app: FastAPI) -> None:
    """A POST changes something, so a retry with its Idempotency-Key must not do it twice;
    other methods are idempotent by nature and claim nothing."""
    wrong = []
    for route in api_routes(app.routes):
        if route.name in PUBLIC_ROUTES:
            assert not route.marked("sika_idempotency_claim"), f"public route {route.name} has no caller to own a key"
            continue
        if route.marked("sika_idempotency_claim") != ("POST" in route.methods):
            wrong.append(f"{sorted(route.methods)} {route.path} ({route.name})")
    assert wrong == []


def test_the_claim_is_made_for_the_caller_the_route_admits(app: FastAPI) -> None:
    """One scope check per route: the claim's owner is the route's actor, and the
    caller is authenticated (and counted against its rate limit) once."""
    routes = api_routes(app.routes)
    assert sum(1 for route in routes if route.marked("sika_idempotency_claim")) >= 10
    assert [route.name for route in routes if route.name not in PUBLIC_ROUTES and len(_scope_checks(route)) != 1] == []
