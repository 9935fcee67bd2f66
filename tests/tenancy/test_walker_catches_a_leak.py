"""The walk is only worth something if it fails when a route forgets the
platform filter: a test app gets a route that reads a party by id with the
filter switched off, and one that lists parties with raw SQL (which no ORM
filter sees), and the walker names exactly those two routes."""

from __future__ import annotations

from typing import Annotated

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI

from sika.api.deps import Session, authorize
from sika.api.unit_of_work import UnitOfWorkRoute
from sika.auth.scopes import Scope
from sika.core import errors, tenancy
from sika.core.context import Actor
from sika.parties.models import Party
from tests.support.operations import operations
from tests.tenancy.walker import walk
from tests.tenancy.world import TwoPlatforms

LEAKY = "GET /v1/leaky/parties/{party_id}"
LEAKY_LIST = "GET /v1/leaky/parties"

leaky = APIRouter(prefix="/v1/leaky", route_class=UnitOfWorkRoute)


@leaky.get("/parties/{party_id}")
async def read_any_party(
    party_id: str, session: Session, actor: Annotated[Actor, Depends(authorize(Scope.platform))]
) -> dict[str, str]:
    """The bug the walk is for: a look-up that sees every platform's rows."""
    statement = sa.select(Party).where(Party.id == party_id).execution_options(**tenancy.ALL_PLATFORMS)
    party = await session.scalar(statement)
    if party is None:
        raise errors.NotFound(f"No party {party_id}.")
    return {"id": party.id, "display_name": party.display_name}


@leaky.get("/parties")
async def list_every_party(
    session: Session, actor: Annotated[Actor, Depends(authorize(Scope.platform, Scope.support))]
) -> dict[str, list[str]]:
    """The same bug in a list: raw SQL, below the session's platform filter."""
    rows = await session.execute(sa.text("SELECT id FROM parties ORDER BY seq"))
    return {"data": [row[0] for row in rows]}


async def test_the_walker_names_a_route_that_reads_another_platforms_party(
    app: FastAPI, client: httpx.AsyncClient, world: TwoPlatforms
) -> None:
    app.include_router(leaky)
    app.openapi_schema = None  # the document is built again, with the new route in it
    assert {LEAKY, LEAKY_LIST} <= {str(operation) for operation in operations(app)}

    walked = await walk(app, client, world.callers, world.foreign())

    assert {leak.operation for leak in walked.leaks} == {LEAKY, LEAKY_LIST}
    party_id = world.b.ids["party_id"]
    # The keys that hold the platform scope (admin holds every scope) read B's party;
    # the support key and the party token are refused before the look-up.
    by_id = [leak for leak in walked.leaks if leak.operation == LEAKY]
    assert sorted(leak.caller for leak in by_id) == ["A's admin key", "A's platform key"]
    assert all(leak.status == 200 and party_id in leak.sent for leak in by_id)
    assert all(leak.why == "accepted a request naming the other platform's objects" for leak in by_id)
    # The list names B's party (and its payer's) to every key it admits.
    listed = [leak for leak in walked.leaks if leak.operation == LEAKY_LIST]
    assert sorted(leak.caller for leak in listed) == ["A's admin key", "A's platform key", "A's support key"]
    assert all(leak.status == 200 and party_id in leak.why for leak in listed)
