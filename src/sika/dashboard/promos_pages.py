"""The dashboard's promo codes page: each code of the platform in view with
its uses against its maximum and its state, read through the promos service
(``sika.promos``). Codes are created and deactivated over the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRouter

from sika.core import clock, paging
from sika.dashboard import i18n, web
from sika.dashboard.views import CurrentView, reading, render
from sika.promos import service as promos_service

PROMOS_SHOWN = 100
"""Codes on the page, newest first."""

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class PromoRow:
    id: str
    code: str
    discount: str
    """``10 %`` or an amount with its currency, as the page's language writes it."""
    uses: int
    max_redemptions: int | None
    max_redemptions_per_party: int | None
    starts_at: datetime
    expires_at: datetime | None
    state: str


def _percent(bps: int, language: str) -> str:
    whole, cents = divmod(bps, 100)
    text = f"{whole}" if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")
    return (text.replace(".", ",") if language == "fr" else text) + "\u202f%"


@router.get("/promo-codes", name="promo_codes")
async def promo_codes(request: Request, view: CurrentView) -> Response:
    now = clock.now()
    language = web.language(request)
    fmt = i18n.Formatter(language)
    async with reading(request, view.platform_id) as session:
        codes = await promos_service.list_codes(session, active=None, page=paging.Page(limit=PROMOS_SHOWN))
        rows = [
            PromoRow(
                id=promo.id,
                code=promo.code,
                discount=(
                    _percent(promo.percent_off_bps, language)
                    if promo.percent_off_bps is not None
                    else fmt.amount(promo.amount_off_minor or 0, promo.currency or "")
                ),
                uses=promo.uses,
                max_redemptions=promo.max_redemptions,
                max_redemptions_per_party=promo.max_redemptions_per_party,
                starts_at=promo.starts_at,
                expires_at=promo.expires_at,
                state=promos_service.state_of(promo, now=now),
            )
            for promo in codes
        ]
    return render(
        request,
        "promos.html",
        operator=view.operator,
        view=view,
        page="promos",
        now=now,
        codes=rows,
        shown_limit=PROMOS_SHOWN,
    )
