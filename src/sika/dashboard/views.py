"""Who is looking at the dashboard and how a page is drawn: the signed-in operator
(read again on every request), the platform in view and the read-only session
bound to it, and the template's context (language, links that keep the
platform filter, formatting)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from sika.auth import service as auth_service
from sika.core import clock, db, tenancy
from sika.dashboard import auth, i18n, read, web

PLATFORM_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
PLATFORM_PARAM = "platform"
"""The query parameter (and form field) naming the platform a global operator filters on."""
_KEPT_BY_FILTER = ("status", "q", "amount", "since", "until")
"""Query parameters the platform filter's form keeps when it reloads the page."""


def _language_links(request: Request, view: View | None) -> list[tuple[str, str]]:
    links = []
    for code in i18n.LANGUAGES:
        query = {**request.query_params, "lang": code}
        if view is not None and not view.filterable:
            # A bound operator's platform is fixed: a ?platform= in the address is not echoed back.
            query.pop(PLATFORM_PARAM, None)
        links.append((code, f"{request.url.path}?{urlencode(query)}"))
    return links


def _linker(request: Request, view: View | None) -> Callable[..., str]:
    """``href(path, **params)``: a link to a page of the dashboard that keeps the platform in view."""

    def href(path: str, **params: object) -> str:
        query = {name: str(value) for name, value in params.items() if value is not None}
        if view is not None and view.filterable and view.platform_id is not None:
            query[PLATFORM_PARAM] = view.platform_id
        return f"{web.base(request)}{path}" + (f"?{urlencode(query)}" if query else "")

    return href


def render(
    request: Request,
    template: str,
    *,
    operator: auth.Operator | None,
    view: View | None = None,
    page: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    language = web.language(request)
    response = web.dashboard(request).templates.TemplateResponse(
        request,
        template,
        {
            "lang": language,
            "t": i18n.translator(language),
            "fmt": i18n.Formatter(language),
            "base": web.base(request),
            "operator": operator,
            "view": view,
            "href": _linker(request, view),
            "filter_kept": [
                (name, request.query_params[name]) for name in _KEPT_BY_FILTER if name in request.query_params
            ],
            "page": page,
            "language_links": _language_links(request, view),
            "known_messages": i18n.MESSAGES,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        web.set_cookie(request, response, i18n.LANGUAGE_COOKIE, language, max_age=i18n.LANGUAGE_COOKIE_MAX_AGE_SECONDS)
    return response


async def current_operator(request: Request) -> auth.Operator:
    """The signed-in operator, or ``LoginRequired``. The key is read again on
    every request, so its revocation or expiry ends the session."""
    dashboard = web.dashboard(request)
    raw = request.cookies.get(auth.SESSION_COOKIE)
    if raw is None:
        raise auth.LoginRequired(ended=False)
    claims = dashboard.signer.read_session(raw)
    if claims is None:
        raise auth.LoginRequired(ended=True)
    async with db.read_only_transaction(dashboard.sessions) as session:
        key = await auth_service.get_live_key(session, key_id=claims.key_id, now=clock.now())
        if key is None or not auth.may_sign_in(frozenset(key.scopes)):
            raise auth.LoginRequired(ended=True)
        return auth.Operator(
            key_id=key.id,
            key_name=key.name,
            scopes=frozenset(key.scopes),
            csrf_token=claims.csrf_token,
            platform_id=key.platform_id,
        )


CurrentOperator = Annotated[auth.Operator, Depends(current_operator)]


@dataclass(frozen=True)
class View:
    """Who is looking, and at which platform: every session a page reads in is
    bound to ``platform_id`` (None: every platform, for a global operator)."""

    operator: auth.Operator
    platform: read.PlatformChoice | None
    platforms: tuple[read.PlatformChoice, ...]
    """What the header's filter offers: every platform for a global operator, the
    operator's own for a bound one."""

    @property
    def platform_id(self) -> str | None:
        return self.platform.id if self.platform is not None else None

    @property
    def filterable(self) -> bool:
        """A global operator chooses the platform; a bound one has it fixed."""
        return self.operator.platform_id is None


def platform_in_view(operator: auth.Operator, asked: str | None) -> str | None:
    """The platform ``operator``'s pages are bound to: a bound key's own, whatever
    is asked (an address naming another platform neither widens nor switches it);
    for a global operator, the one asked, if any."""
    if operator.platform_id is not None:
        return operator.platform_id
    return asked or None


@asynccontextmanager
async def reading(request: Request, platform_id: str | None) -> AsyncIterator[AsyncSession]:
    """The one way pages open a session: read-only, bound to ``platform_id``."""
    async with db.read_only_transaction(web.dashboard(request).sessions) as session:
        tenancy.bind(session, platform_id)
        yield session


async def current_view(request: Request, operator: CurrentOperator) -> View:
    """The view of the page asked for; an unknown ``?platform=`` is the 404 page."""
    platform_id = platform_in_view(operator, request.query_params.get(PLATFORM_PARAM))
    if platform_id is not None and not PLATFORM_ID.match(platform_id):
        raise StarletteHTTPException(404, detail="platform_not_found")
    # Bound as the key is, not as asked: a bound operator's list is its own platform.
    async with reading(request, operator.platform_id) as session:
        platforms = await read.platforms(session)
        chosen = None if platform_id is None else await read.platform(session, platform_id=platform_id)
    if platform_id is not None and chosen is None:
        raise StarletteHTTPException(404, detail="platform_not_found")
    if chosen is not None and chosen not in platforms:
        platforms = (*platforms, chosen)
    return View(operator=operator, platform=chosen, platforms=platforms)


CurrentView = Annotated[View, Depends(current_view)]
