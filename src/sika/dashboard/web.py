"""The dashboard's plumbing: its state on the app, where it is mounted, the
language a request asks for, cookies, form fields and the CSRF check, the
caller's address and request id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import FormData

from sika.core import client_address as addresses
from sika.core.config import Environment, Settings
from sika.dashboard import auth, i18n
from sika.providers import failover


class AddressLimiter(Protocol):
    """The API's rate limiter, as sign-in uses it."""

    async def hit_failed_authentication(self, address: str) -> None:
        """Count one attempt from ``address``; raises ``errors.RateLimited`` past the limit."""


@dataclass(frozen=True)
class Dashboard:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    signer: auth.Signer
    limiter: AddressLimiter
    templates: Jinja2Templates
    providers: Callable[[], failover.CollectionRouter]
    """The API app's providers: an operator's "reconcile now" asks them."""


def dashboard(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def base(request: Request) -> str:
    """Where the dashboard is mounted (``/dashboard``): every link and cookie path starts here."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def language(request: Request) -> str:
    return i18n.choose(
        query=request.query_params.get("lang"),
        cookie=request.cookies.get(i18n.LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )


def secure_cookies(request: Request) -> bool:
    settings = dashboard(request).settings
    return request.url.scheme == "https" or settings.ENV is Environment.production


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=base(request) or "/",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=base(request) or "/", httponly=True, samesite="strict", secure=secure_cookies(request)
    )


def field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def check_csrf(operator: auth.Operator, form: FormData) -> None:
    if not auth.tokens_match(operator.csrf_token, field(form, auth.CSRF_FIELD)):
        raise auth.CsrfRefused()


def client_address(request: Request) -> str:
    return addresses.resolve(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        dashboard(request).settings.TRUSTED_PROXIES,
    )


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def safe_next(request: Request, target: str | None) -> str | None:
    """A page of this dashboard to return to after sign-in, never another site."""
    mounted = base(request)
    if not target or not target.startswith(f"{mounted}/") or "//" in target or "\\" in target:
        return None
    return target
