"""The OpenAPI document tells the truth about every operation: it is a valid
document; its security and scopes are those the route declares (read by the
same walk as the route-walk test) and the server enforces; every mutating
operation that claims an Idempotency-Key takes the header; every error it can
answer is documented as problem+json (FastAPI's HTTPValidationError nowhere);
``/metrics`` is text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import FastAPI
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import problems
from sika.api.openapi import API_KEY, PARTY_TOKEN, PROBLEM
from sika.api.pagination import MAX_CURSOR_LENGTH, encode_cursor
from sika.auth.scopes import Scope
from tests.conftest import make_key
from tests.foundation.test_routes_declare_scopes import PUBLIC_ROUTES
from tests.support.routes import Route, api_routes

Operation = dict[str, Any]
PROBLEM_CONTENT = {problems.PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM}"}}}


def _operations(app: FastAPI) -> Iterator[tuple[str, str, Operation]]:
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _routes(app: FastAPI) -> dict[tuple[str, str], Route]:
    return {(method, route.path): route for route in api_routes(app.routes) for method in route.methods}


def _scopes(route: Route) -> frozenset[str]:
    (scopes,) = {frozenset(call.sika_scopes) for call in route.dependency_calls() if hasattr(call, "sika_scopes")}
    return scopes


def _example_path(path: str) -> str:
    return path.replace("{provider}", "paystack").replace("{", "x_").replace("}", "")


def test_the_document_is_valid_openapi(app: FastAPI) -> None:
    document = app.openapi()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert "HTTPValidationError" not in json.dumps(document)


def test_both_credentials_are_bearer_schemes(app: FastAPI) -> None:
    schemes = app.openapi()["components"]["securitySchemes"]
    assert schemes.keys() == {API_KEY, PARTY_TOKEN}
    assert {scheme["type"] for scheme in schemes.values()} == {"http"}
    assert {scheme["scheme"] for scheme in schemes.values()} == {"bearer"}


def test_every_operation_has_the_security_its_route_declares(app: FastAPI) -> None:
    routes = _routes(app)
    operations = list(_operations(app))
    assert len(operations) == len(routes) >= 40
    for method, path, operation in operations:
        route = routes[(method, path)]
        if route.name in PUBLIC_ROUTES:
            assert operation["security"] == [], f"{method} {path}"
            continue
        roles = [scope.value for scope in Scope if scope.value in _scopes(route) or scope is Scope.admin]
        expected = [{API_KEY: roles}] + ([{PARTY_TOKEN: []}] if route.marked("sika_allow_party") else [])
        assert operation["security"] == expected, f"{method} {path}"
        assert operation["x-sika-scopes"] == roles
        assert operation["x-sika-party-token"] == route.marked("sika_allow_party")
    parties = [path for method, path, op in operations if op.get("x-sika-party-token")]
    assert parties, "some operations take party tokens"


def test_operation_ids_are_the_route_names(app: FastAPI) -> None:
    """Stable: a route's id moves with neither its path nor its method (client generators name methods by it)."""
    routes = _routes(app)
    ids = [operation["operationId"] for _, _, operation in _operations(app)]
    assert len(set(ids)) == len(ids)
    for method, path, operation in _operations(app):
        assert operation["operationId"] == routes[(method, path)].name
    assert "create_party" in ids


def test_every_operation_that_claims_a_key_takes_the_idempotency_header(app: FastAPI) -> None:
    routes = _routes(app)
    claiming = 0
    for method, path, operation in _operations(app):
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        if routes[(method, path)].marked("sika_idempotency_claim"):
            claiming += 1
            assert [p["name"] for p in headers] == ["Idempotency-Key"], f"{method} {path}"
            for answer in operation["responses"].values():
                assert "Idempotent-Replayed" in answer["headers"], f"{method} {path}"
            assert headers[0]["required"] is routes[(method, path)].marked("sika_idempotency_required")
            assert headers[0]["schema"]["maxLength"] == 255
        else:
            assert headers == [], f"{method} {path}"
            assert all("Idempotent-Replayed" not in a.get("headers", {}) for a in operation["responses"].values())
    assert claiming >= 10


def test_every_error_is_documented_as_a_problem(app: FastAPI) -> None:
    for method, path, operation in _operations(app):
        responses = operation["responses"]
        documented = {int(status) for status in responses}
        where = f"{method} {path}"
        assert 429 in documented, where
        if operation["security"]:
            assert {401, 403, 404, 422} <= documented, where
        if "requestBody" in operation:
            assert {400, 413, 415, 422} <= documented, where
        if any(p["in"] in ("path", "query") for p in operation.get("parameters", [])):
            assert 422 in documented, where
        for cursor in [p for p in operation.get("parameters", []) if p["name"] == "cursor"]:
            assert 400 in documented, f"{where}: a cursor the API did not give is 400 invalid_cursor"
            assert cursor["schema"]["maxLength"] == MAX_CURSOR_LENGTH, where
            assert re.fullmatch(cursor["schema"]["pattern"].strip("^$"), encode_cursor(2**63 - 1)), where
        if operation["security"] and method in ("POST", "PATCH", "DELETE"):
            assert {409, 503} <= documented, where
        for status, answer in responses.items():
            assert "X-Request-ID" in answer["headers"], f"{where} {status}"
            if int(status) >= 400 and (path, status) != ("/ready", "503"):
                assert answer["content"] == PROBLEM_CONTENT, f"{where} {status}"


def test_metrics_are_documented_as_text(app: FastAPI) -> None:
    content = app.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain; version=1.0.0; charset=utf-8"]
    assert content["text/plain; version=1.0.0; charset=utf-8"]["schema"] == {"type": "string"}


async def test_the_server_answers_as_documented(
    app: FastAPI, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Each operation without credentials (401), with a read key (403 unless read is among its
    scopes), and each JSON one with a text body (415): the status is one the document lists."""
    read = {"Authorization": f"Bearer {await make_key(sessions, Scope.read)}"}
    admin = {"Authorization": f"Bearer {await make_key(sessions, Scope.admin)}"}
    assert (await client.get("/openapi.json")).json() == app.openapi(), "the served document is the completed one"
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"] in app.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    answers = []
    for method, path, operation in _operations(app):
        if not operation["security"]:
            continue
        documented = set(operation["responses"])
        url = _example_path(path)
        anonymous = await client.request(method, url)
        assert anonymous.status_code == 401, f"{method} {path}: {anonymous.text}"
        with_read = await client.request(method, url, headers=read)
        allowed = "read" in operation["x-sika-scopes"]
        assert (with_read.status_code == 403) != allowed, f"{method} {path}: {with_read.status_code}"
        assert str(with_read.status_code) in documented, f"{method} {path}: {with_read.status_code}"
        answers += [anonymous, with_read]
        if "requestBody" in operation:
            text = await client.request(method, url, headers={**admin, "Content-Type": "text/plain"}, content=b"x")
            assert text.status_code == 415, f"{method} {path}: {text.text}"
            invalid = await client.request(method, url, headers=admin, json=[])
            assert str(invalid.status_code) in documented, f"{method} {path}: {invalid.text}"
            answers += [text, invalid]
    assert len(answers) >= 100
    # Every refusal is an instance of the documented Problem schema (422's per-field errors among them).
    problem = OAS31Validator({"$ref": f"#/components/schemas/{PROBLEM}", **app.openapi()})
    refusals = [answer for answer in answers if answer.status_code >= 400]
    assert {answer.status_code for answer in refusals} >= {401, 403, 404, 415, 422}
    for answer in refusals:
        assert answer.headers["content-type"] == problems.PROBLEM_CONTENT_TYPE
        assert answer.headers["x-request-id"]
        problem.validate(answer.json())
