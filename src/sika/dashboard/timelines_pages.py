"""One page per object (collection, payout, hold, wallet, party) at
``/dashboard/<kind>s/{id}``: its facts, links to the objects it belongs to, and
its timeline (``sika.search``'s, the same as ``GET /v1/<kind>s/{id}/timeline``).

Each page reads in the session of the platform in view (``views.reading``): an
object of another platform is the 404 page, as an unknown id is. The facts are
named fields only, as the timeline's are: nothing a row may gain later (a
secret) reaches the page without someone choosing it here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRouter
from starlette.exceptions import HTTPException as StarletteHTTPException

from sika.core import errors
from sika.dashboard import web
from sika.dashboard.views import CurrentView, View, reading, render
from sika.search import service as search_service

_OBJECT_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")

router = APIRouter(include_in_schema=False)
OBJECT_PAGES = {"collection": "/collections", "payout": "/payouts"}
"""The kinds that have a page, and where: an id of one of them links to it."""
SEARCH_GROUPS = {f"{kind}s": path for kind, path in OBJECT_PAGES.items()}
"""The search's groups whose hits link to their pages (``collections`` → ``/collections``)."""


@dataclass(frozen=True)
class Fact:
    """One line of an object's facts: a label (a message key) and one kind of value."""

    label: str
    text: str | None = None
    amount: tuple[int, str] | None = None
    at: datetime | None = None
    link: tuple[str, str] | None = None
    """(kind, id): the id, a link to its page when its kind has one."""


def _payment_facts(row: Any) -> list[Fact]:
    """What a collection and a payout both show."""
    return [
        Fact("object.fact.state", text=row.status),
        Fact("object.fact.amount", amount=(row.amount_minor, row.currency)),
        Fact("object.fact.party", link=("party", row.party_id)),
        Fact("object.fact.wallet", link=("wallet", row.wallet_id)),
        Fact("object.fact.provider", text=row.provider),
        Fact("object.fact.provider_reference", text=row.provider_reference),
        Fact("object.fact.failure", text=" ".join(filter(None, (row.failure_code, row.failure_message))) or None),
        Fact("object.fact.created_at", at=row.created_at),
        Fact("object.fact.completed_at", at=row.completed_at),
        Fact("object.fact.last_checked_at", at=row.last_checked_at),
    ]


def _page(
    request: Request, view: View, *, kind: str, object_id: str, facts: list[Fact], entries: list[Any]
) -> Response:
    return render(
        request,
        "object.html",
        operator=view.operator,
        view=view,
        page="search",
        kind=kind,
        object_id=object_id,
        facts=[fact for fact in facts if fact.text or fact.amount or fact.at or fact.link],
        entries=entries,
        object_pages=OBJECT_PAGES,
    )


def _checked(object_id: str) -> None:
    if not _OBJECT_ID.match(object_id):
        raise StarletteHTTPException(404, detail="not_found")


@router.get("/collections/{collection_id}", name="collection_page")
async def collection_page(request: Request, collection_id: str, view: CurrentView) -> Response:
    """A collection: its facts and its story (what ``GET /v1/collections/{id}/timeline`` answers)."""
    _checked(collection_id)
    actor = view.operator.actor(request_id=web.request_id(request))
    try:
        async with reading(request, view.platform_id) as session:
            story = await search_service.collection_timeline(session, collection_id=collection_id, actor=actor)
    except errors.NotFound as exc:
        raise StarletteHTTPException(404, detail="not_found") from exc
    row = story.collection
    facts = [
        *_payment_facts(row),
        Fact("object.fact.method", text=" ".join(filter(None, (row.method, row.operator)))),
        Fact("object.fact.next_action", text=row.next_action),
    ]
    return _page(request, view, kind="collection", object_id=row.id, facts=facts, entries=story.entries)


@router.get("/payouts/{payout_id}", name="payout_page")
async def payout_page(request: Request, payout_id: str, view: CurrentView) -> Response:
    """A payout: its facts, its hold, and its story (``GET /v1/payouts/{id}/timeline``)."""
    _checked(payout_id)
    actor = view.operator.actor(request_id=web.request_id(request))
    try:
        async with reading(request, view.platform_id) as session:
            story = await search_service.payout_timeline(session, payout_id=payout_id, actor=actor)
    except errors.NotFound as exc:
        raise StarletteHTTPException(404, detail="not_found") from exc
    row = story.payout
    facts = [
        *_payment_facts(row),
        Fact("object.fact.method", text=f"mobile_money {row.operator}"),
        Fact("object.fact.hold", link=("hold", row.hold_id)),
        Fact("object.fact.reversal", text=row.reversal_transfer_id),
    ]
    return _page(request, view, kind="payout", object_id=row.id, facts=facts, entries=story.entries)
