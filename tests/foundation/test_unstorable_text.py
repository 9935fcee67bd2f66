"""Text PostgreSQL cannot store (U+0000, an unpaired surrogate) is refused with
a 422 ``invalid_text`` naming the field, in every body field, query parameter
and path parameter of every route, before anything is written; what the
database refuses anyway is a 422 too, never a 500; and a refusal keeps the
client's keep-alive connection open."""

from __future__ import annotations

import asyncio
import http.client
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api.messages_fr import DETAILS_FR
from tests.dashboard.conftest import form_token
from tests.support.ledger import snapshot
from tests.support.operations import Bodies, Operation, operations, real_ids, row_counts, url
from tests.support.server import live_api
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this module)

Sessions = async_sessionmaker[AsyncSession]

NUL = "x\x00y"
UNSTORABLE = ("\x00", "\ud800")
"""What a JSON body can carry (``\\u0000``, ``\\ud800``); a URL's percent-decoding
turns invalid UTF-8 into U+FFFD, so a path or query can only carry the NUL."""


@dataclass(frozen=True)
class Case:
    operation: Operation
    field: str
    """Where the bad text is, as the refusal must name it."""
    url: str
    params: dict[str, str]
    body: Any | None

    def __str__(self) -> str:
        return f"{self.operation} with bad text in {self.field!r}"


def cases(app: FastAPI, ids: dict[str, str]) -> Iterator[Case]:
    """For every operation: the NUL in each path and query parameter (the rest
    naming real things), and each bad character in each place of its body."""
    bodies = Bodies(app, known=ids)
    for operation in operations(app):
        plain_url = url(operation, ids)
        plain_body = bodies.example(operation.body) if operation.body else None
        for name in operation.path_params:
            yield Case(operation, f"path.{name}", url(operation, ids, **{name: NUL}), {}, plain_body)
        for name in operation.query_params:
            yield Case(operation, f"query.{name}", plain_url, {name: NUL}, plain_body)
        if not operation.body:
            continue
        for bad in UNSTORABLE:
            for location, body in bodies.with_bad_text(operation.body, bad):
                yield Case(operation, ".".join(map(str, location)), plain_url, {}, body)


async def send(client: httpx.AsyncClient, case: Case, admin: dict[str, str]) -> httpx.Response:
    headers = {**admin}
    if case.operation.method == "POST":
        headers["Idempotency-Key"] = f"walk-{uuid.uuid4()}"
    content = None
    if case.body is not None:
        # json.dumps escapes the bad characters (httpx would try to encode a lone surrogate).
        content = json.dumps(case.body).encode()
        headers["Content-Type"] = "application/json"
    return await client.request(case.operation.method, case.url, params=case.params, content=content, headers=headers)


def assert_refused(response: httpx.Response, field: str, context: object) -> None:
    assert response.status_code == 422, f"{context}: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"] == "application/problem+json", context
    problem = response.json()
    assert problem["code"] == "invalid_text", f"{context}: {problem}"
    named = [(error["field"], error["type"]) for error in problem["errors"]]
    assert (field, "invalid_text") in named, f"{context}: {named}"


async def test_every_field_of_every_route_refuses_text_postgresql_cannot_store(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    ids = await real_ids(client, admin_headers, sessions)
    walked = list(cases(app, ids))
    ledger_before, rows_before = await snapshot(sessions), await row_counts(sessions)

    for case in walked:
        assert_refused(await send(client, case, admin_headers), case.field, case)

    assert await snapshot(sessions) == ledger_before
    assert await row_counts(sessions) == rows_before
    # The walk itself reached every kind of field: path, query, nested body, metadata keys and values.
    fields = {case.field for case in walked}
    assert {"path.wallet_id", "path.provider", "query.cursor", "query.actor", "query.wallet_id"} <= fields
    assert {"body.display_name", "body.reason", "body.recipient_name", "body.destination.phone"} <= fields
    assert {"body.metadata.k\ufffd.[key]", "body.metadata.k", "body.transfers.0.metadata.k.deep.1"} <= fields
    assert len({str(case.operation) for case in walked}) >= 40


async def test_a_refusal_names_every_bad_field_at_once_in_french_too(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/parties?note=%00",
        content=b'{"display_name": "Awa\\u0000", "type": "individual", "country": "SN", "email": "\\ud83d@x.sn"}',
        headers={**admin_headers, "Content-Type": "application/json", "Accept-Language": "fr"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert (problem["code"], problem["detail"]) == ("invalid_text", DETAILS_FR["invalid_text"])
    assert [(error["field"], error["message"], error["type"]) for error in problem["errors"]] == [
        ("query.note", "Holds U+0000 (NUL) at position 0, which cannot be stored.", "invalid_text"),
        ("body.display_name", "Holds U+0000 (NUL) at position 3, which cannot be stored.", "invalid_text"),
        ("body.email", "Holds an unpaired surrogate (U+D83D) at position 0, which cannot be stored.", "invalid_text"),
    ]


async def test_a_form_body_is_checked_too(client: httpx.AsyncClient, sessions: Sessions) -> None:
    """The dashboard's sign-in form: its key would otherwise be looked up in the database."""
    form = await client.get("/dashboard/login")
    rows_before = await row_counts(sessions)
    response = await client.post(
        "/dashboard/login",
        data={"csrf_token": form_token(form.text), "api_key": "sika_" + "\x00" * 12 + "_secret", "next": ""},
    )
    assert_refused(response, "body.api_key", "dashboard sign-in")
    assert await row_counts(sessions) == rows_before


async def test_a_path_no_route_names_is_refused_whole(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.get(f"/v1/nowhere/{quote(NUL)}", headers=admin_headers)
    assert_refused(response, "path", "unrouted path")


PROBES: dict[str, tuple[str, object]] = {
    "nul": ("text", "a\x00b"),
    "surrogate": ("text", "\ud800"),
    "jsonb-nul": ("jsonb", '{"note": "a\\u0000b"}'),
    "bigint": ("bigint", 2**70),
}


@pytest.fixture
def probed_app(app: FastAPI) -> FastAPI:
    """The app with routes that hand the database, as a check might miss it,
    a value it refuses; and one that fails encoding text on its own (a bug)."""

    async def store(request: Request, probe: str) -> None:
        column_type, value = PROBES[probe]
        async with request.app.state.engine.connect() as connection:
            await connection.execute(sa.text(f"SELECT CAST(:value AS {column_type})"), {"value": value})

    async def latin1() -> None:
        "Ghana cedi: ₵".encode("latin-1")

    app.add_api_route("/v1/_probe/latin1", latin1, methods=["GET"])
    app.add_api_route("/v1/_probe/{probe}", store, methods=["GET"])
    return app


@pytest.mark.parametrize(
    ("probe", "code"),
    [
        ("nul", "invalid_text"),
        ("surrogate", "invalid_text"),
        ("jsonb-nul", "invalid_text"),
        ("bigint", "invalid_value"),
    ],
)
async def test_a_value_the_database_refuses_is_a_422_never_a_500(
    probed_app: FastAPI, client: httpx.AsyncClient, probe: str, code: str
) -> None:
    response = await client.get(f"/v1/_probe/{probe}", headers={"Accept-Language": "fr"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["detail"]) == (code, DETAILS_FR[code])
    assert "Traceback" not in response.text


async def test_any_other_encoding_failure_is_still_a_bug(probed_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/_probe/latin1")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


KEPT_ALIVE_EXCHANGE: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("POST", "/v1/parties", {"display_name": NUL, "type": "individual", "country": "SN"}, 422),
    ("GET", f"/v1/wallets/{quote(NUL)}", None, 422),
    ("GET", "/v1/collections?wallet_id=%00", None, 422),
    ("GET", "/v1/audit-events?actor=%00", None, 422),
    ("GET", "/v1/audit-events?cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk", None, 400),
    ("GET", "/v1/api-keys", None, 200),
]


def exchange_on_one_connection(base_url: str, admin: dict[str, str]) -> list[int]:
    """Each request of ``KEPT_ALIVE_EXCHANGE`` in turn on one keep-alive connection;
    fails if the server drops it (it used to, after each 500)."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    connection.connect()
    opened = connection.sock
    statuses: list[int] = []
    try:
        for method, path, body, _ in KEPT_ALIVE_EXCHANGE:
            headers = {**admin, "Content-Type": "application/json", "Idempotency-Key": f"alive-{uuid.uuid4()}"}
            try:
                connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
                response = connection.getresponse()
                response.read()
            except (http.client.RemoteDisconnected, ConnectionError) as dropped:
                raise AssertionError(f"the server dropped the connection after {statuses}") from dropped
            statuses.append(response.status)
            assert connection.sock is opened, f"{method} {path} closed the connection"
    finally:
        connection.close()
    return statuses


async def test_a_refusal_keeps_the_keep_alive_connection_open(database_url: str, admin_headers: dict[str, str]) -> None:
    with live_api(database_url, workers=1) as base_url:
        statuses = await asyncio.to_thread(exchange_on_one_connection, base_url, admin_headers)
    assert statuses == [status for *_, status in KEPT_ALIVE_EXCHANGE]
