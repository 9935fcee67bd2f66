"""Every paginated route decodes its cursor one way: a bad one, however it is
bad, is a 400 ``invalid_cursor`` (in French too), never a 500, and moves
nothing. (That a cursor the API gave still pages is tested with each list.)"""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sika.api import pagination
from sika.api.messages_fr import DETAILS_FR
from tests.support.ledger import snapshot
from tests.support.operations import operations, real_ids, row_counts, url
from tests.support.tasks import nothing_left_running, settled  # noqa: F401 (fixtures for this module)

Sessions = async_sessionmaker[AsyncSession]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = {
    "past a bigint": b64("99999999999999999999999999"),
    "a Unicode digit that is not ASCII": b64("²"),
    "five thousand zeros": b64("0" * 5000),
    "one more than the largest bigint": b64(str(2**63)),
    "not base64": "!!!",
    "base64 with a character outside the URL-safe alphabet": "MT+z",
    "empty": "",
    "negative": b64("-1"),
    "not a number": b64("abc"),
    "spaces around digits": b64(" 12 "),
}


async def test_every_bad_cursor_is_400_invalid_cursor_on_every_paginated_route(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    ids = await real_ids(client, admin_headers, sessions)
    paginated = [operation for operation in operations(app) if "cursor" in operation.query_params]
    assert len(paginated) >= 10
    ledger_before, rows_before = await snapshot(sessions), await row_counts(sessions)

    for operation in paginated:
        for name, cursor in BAD_CURSORS.items():
            response = await client.get(
                url(operation, ids), params={"cursor": cursor}, headers={**admin_headers, "Accept-Language": "fr"}
            )
            context = f"{operation} with a cursor {name}"
            assert response.status_code == 400, f"{context}: {response.status_code} {response.text[:300]}"
            assert response.headers["content-type"] == "application/problem+json", context
            problem = response.json()
            assert (problem["code"], problem["title"]) == ("invalid_cursor", "Requête invalide"), context
            assert problem["detail"] == DETAILS_FR["invalid_cursor"], context

    assert await snapshot(sessions) == ledger_before
    assert await row_counts(sessions) == rows_before


@pytest.mark.parametrize("position", [0, 1, 41, 2**63 - 1])
def test_a_cursor_the_api_gives_decodes_to_its_position(position: int) -> None:
    cursor = pagination.encode_cursor(position)
    assert len(cursor) <= pagination.MAX_CURSOR_LENGTH
    assert pagination.decode_int_cursor(cursor) == position
