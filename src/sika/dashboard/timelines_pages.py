"""One page per object (collection, payout, hold, wallet, party) at
``/dashboard/<kind>s/{id}``: its facts, links to the objects it belongs to, and
its timeline (``sika.search``'s, the same as ``GET /v1/<kind>s/{id}/timeline``).

Each page reads in the session of the platform in view (``views.reading``): an
object of another platform is the 404 page, as an unknown id is. The facts are
named fields only, as the timeline's are: nothing a row may gain later (a
secret) reaches the page without someone choosing it here."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from sika.core import clock, errors
from sika.dashboard import web
from sika.dashboard.views import CurrentView, View, reading, render
from sika.search import service as search_service

_OBJECT_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")

router = APIRouter(include_in_schema=False)
OBJECT_PAGES = {
    "collection": "/collections",
    "payout": "/payouts",
    "hold": "/holds",
    "wallet": "/wallets",
    "party": "/parties",
}
"""The kinds that have a page, and where: an id of one of them links to it."""
SEARCH_GROUPS = {path.lstrip("/"): path for path in OBJECT_PAGES.values()}
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
    request: Request,
    view: View,
    *,
    kind: str,
    object_id: str,
    facts: list[Fact],
    entries: list[Any],
    newest_first: bool = False,
    truncated: bool = False,
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
        newest_first=newest_first,
        limit=search_service.DEFAULT_TIMELINE_LIMIT,
        truncated=truncated,
    )


@asynccontextmanager
async def _found(request: Request, view: View, object_id: str) -> AsyncIterator[AsyncSession]:
    """The session of the platform in view; an id no object of it has is the 404 page."""
    if not _OBJECT_ID.match(object_id):
        raise StarletteHTTPException(404, detail="not_found")
    try:
        async with reading(request, view.platform_id) as session:
            yield session
    except errors.NotFound as exc:
        raise StarletteHTTPException(404, detail="not_found") from exc


@router.get("/collections/{collection_id}", name="collection_page")
async def collection_page(request: Request, collection_id: str, view: CurrentView) -> Response:
    """A collection: its facts and its story (what ``GET /v1/collections/{id}/timeline`` answers)."""
    actor = view.operator.actor(request_id=web.request_id(request))
    async with _found(request, view, collection_id) as session:
        story = await search_service.collection_timeline(session, collection_id=collection_id, actor=actor)
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
    actor = view.operator.actor(request_id=web.request_id(request))
    async with _found(request, view, payout_id) as session:
        story = await search_service.payout_timeline(session, payout_id=payout_id, actor=actor)
    row = story.payout
    facts = [
        *_payment_facts(row),
        Fact("object.fact.method", text=f"mobile_money {row.operator}"),
        Fact("object.fact.hold", link=("hold", row.hold_id)),
        Fact("object.fact.reversal", text=row.reversal_transfer_id),
    ]
    return _page(request, view, kind="payout", object_id=row.id, facts=facts, entries=story.entries)


@router.get("/holds/{hold_id}", name="hold_page")
async def hold_page(request: Request, hold_id: str, view: CurrentView) -> Response:
    """A hold: its facts, its wallet and owner, and its story (``GET /v1/holds/{id}/timeline``)."""
    actor = view.operator.actor(request_id=web.request_id(request))
    async with _found(request, view, hold_id) as session:
        story = await search_service.hold_timeline(session, hold_id=hold_id, actor=actor, now=clock.now())
    hold = search_service.hold_summary(story.hold)
    currency = str(hold["currency"])
    owner_id = hold["owner_id"]
    facts = [
        Fact("object.fact.state", text=str(hold["state"])),
        Fact("object.fact.amount", amount=(story.hold.pending.amount_minor, currency)),
        Fact("object.fact.wallet", link=("wallet", str(hold["wallet_id"]))),
        Fact("object.fact.party", link=("party", str(hold["party_id"]))),
        Fact("object.fact.owner", link=(str(hold["owner_type"]), str(owner_id)) if owner_id else None),
        Fact("object.fact.captured", amount=(story.hold.captured_minor, currency)),
        Fact("object.fact.returned", amount=(story.hold.returned_minor, currency)),
        Fact("object.fact.created_at", at=story.hold.pending.created_at),
        Fact("object.fact.expires_at", at=story.hold.pending.expires_at),
        Fact("object.fact.resolved_at", at=story.hold.resolved_at),
    ]
    return _page(request, view, kind="hold", object_id=hold_id, facts=facts, entries=story.entries)


@router.get("/wallets/{wallet_id}", name="wallet_page")
async def wallet_page(request: Request, wallet_id: str, view: CurrentView) -> Response:
    """A wallet: its money now, its party, and its newest entries (``GET /v1/wallets/{id}/timeline``)."""
    actor = view.operator.actor(request_id=web.request_id(request))
    async with _found(request, view, wallet_id) as session:
        story = await search_service.wallet_timeline(
            session, wallet_id=wallet_id, actor=actor, now=clock.now(), limit=search_service.DEFAULT_TIMELINE_LIMIT
        )
    wallet = story.wallet.wallet
    facts = [
        Fact("object.fact.party", link=("party", wallet.party_id)),
        Fact("object.fact.balance", amount=(story.wallet.balance_minor, wallet.currency)),
        Fact("object.fact.held", amount=(story.wallet.held_minor, wallet.currency)),
        Fact("object.fact.available", amount=(story.wallet.available_minor, wallet.currency)),
        Fact("object.fact.account", text=wallet.account_id),
        Fact("object.fact.created_at", at=wallet.created_at),
    ]
    return _page(
        request,
        view,
        kind="wallet",
        object_id=wallet.id,
        facts=facts,
        entries=story.entries,
        newest_first=True,
        truncated=story.truncated,
    )


@router.get("/parties/{party_id}", name="party_page")
async def party_page(request: Request, party_id: str, view: CurrentView) -> Response:
    """A party: who it is, its wallets, and its newest entries (``GET /v1/parties/{id}/timeline``)."""
    actor = view.operator.actor(request_id=web.request_id(request))
    async with _found(request, view, party_id) as session:
        story = await search_service.party_timeline(
            session, party_id=party_id, actor=actor, limit=search_service.DEFAULT_TIMELINE_LIMIT
        )
    party = story.party
    facts = [
        Fact("object.fact.display_name", text=party.display_name),
        Fact("object.fact.state", text=party.status),
        Fact("object.fact.type", text=party.type),
        Fact("object.fact.country", text=party.country),
        Fact("object.fact.email", text=party.email),
        Fact("object.fact.phone", text=party.phone),
        *[Fact("object.fact.wallet", link=("wallet", wallet_id)) for wallet_id in story.wallet_ids],
        Fact("object.fact.created_at", at=party.created_at),
    ]
    return _page(
        request,
        view,
        kind="party",
        object_id=party.id,
        facts=facts,
        entries=story.entries,
        newest_first=True,
        truncated=story.truncated,
    )
