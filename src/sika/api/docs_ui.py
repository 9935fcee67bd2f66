"""The API's reference pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc),
served whole by Sika so they work on a machine with no Internet access.

FastAPI's own pages load their scripts from a CDN and start Swagger UI with an
inline script, which the CSP every answer carries (``default-src 'self'``)
refuses: the page stays blank. Here the UI bundles come from the
``fastapi-offline`` wheel (Swagger UI 5 and ReDoc 2, as published on npm), the
starters are files of ours (``docs_static/*-init.js``), and each page carries
a CSP of its own that allows exactly what these pages load: scripts and
stylesheets from Sika, ReDoc's ``<style>`` elements by a nonce of the page,
images from Sika or inline SVG (``data:``, the icons of Swagger UI's
stylesheet), the OpenAPI document and "Try it out" calls to Sika, and ReDoc's
search index worker (started from a ``blob:``). No inline script, and no other
origin."""

from __future__ import annotations

import functools
import re
import secrets
from html import escape
from importlib.resources import files

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs-assets"


def content_security_policy(*, style_nonce: str | None = None) -> str:
    """The CSP of the two pages (every other answer keeps the app's default). ReDoc
    creates ``<style>`` elements: they are allowed by this page's ``style_nonce`` alone."""
    styles = "style-src 'self'" + (f" 'nonce-{style_nonce}'" if style_nonce else "")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            styles,
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "worker-src blob:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


REDOC_SCRIPT = "redoc.js"
_WEBPACK_NONCE = re.compile(r"\b(\w+)\.nc=void 0;")
_REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle, made to run offline under the page's CSP. As it loads,
    its style loader inserts a ``<style>`` with webpack's nonce (``__webpack_nonce__``),
    which the bundle leaves empty: it is taken from the ``data-style-nonce`` of the script
    element. And Redocly's logo under the menu, fetched from a CDN on every view, becomes
    an empty image, which ReDoc hides. (A newer bundle that changes either shows in
    tests/foundation/test_docs_offline.py as a CSP violation or a request leaving the machine.)"""
    source = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_text("utf-8")
    source = _WEBPACK_NONCE.sub(r"\1.nc=document.currentScript.dataset.styleNonce;", source, count=1)
    return source.replace(_REDOCLY_LOGO, "data:,").encode()


_NOSCRIPT = (
    "<noscript>This reference needs JavaScript. / Cette référence a besoin de JavaScript. "
    '<a href="{openapi}">openapi.json</a></noscript>'
)


def _page(title: str, head: str, body: str, *, csp: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


def _urls(request: Request, openapi_url: str) -> tuple[str, str]:
    """The document's and the assets' URLs, under the root path a proxy may mount Sika at."""
    root = str(request.scope.get("root_path", ""))
    return escape(root + openapi_url, quote=True), escape(root + ASSETS_PATH, quote=True)


def install(app: FastAPI, *, openapi_url: str) -> None:
    """Serve the assets and both pages (outside the OpenAPI document and the route table of the API)."""

    async def redoc_script(request: Request) -> Response:
        return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")

    # Before the mount, which would otherwise answer for the whole prefix.
    app.add_route(f"{ASSETS_PATH}/{REDOC_SCRIPT}", redoc_script, include_in_schema=False)
    app.mount(
        ASSETS_PATH,
        StaticFiles(packages=[("sika.api", "docs_static"), ("fastapi_offline", "static")]),
        name="docs-assets",
    )

    async def swagger_ui(request: Request) -> HTMLResponse:
        openapi, assets = _urls(request, openapi_url)
        head = (
            f'<link rel="stylesheet" href="{assets}/swagger-ui.css">\n'
            f'<link rel="icon" type="image/png" href="{assets}/favicon.png">\n'
        )
        body = (
            f'<div id="swagger-ui" data-openapi-url="{openapi}"></div>\n'
            f"{_NOSCRIPT.format(openapi=openapi)}\n"
            f'<script src="{assets}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{assets}/swagger-init.js"></script>\n'
        )
        return _page(f"{app.title} API — Swagger UI", head, body, csp=content_security_policy())

    async def redoc(request: Request) -> HTMLResponse:
        openapi, assets = _urls(request, openapi_url)
        head = f'<link rel="icon" type="image/png" href="{assets}/favicon.png">\n'
        nonce = secrets.token_urlsafe(18)
        body = (
            f'<div id="redoc" data-spec-url="{openapi}" data-style-nonce="{nonce}"></div>\n'
            f"{_NOSCRIPT.format(openapi=openapi)}\n"
            f'<script src="{assets}/{REDOC_SCRIPT}" data-style-nonce="{nonce}"></script>\n'
            f'<script src="{assets}/redoc-init.js"></script>\n'
        )
        return _page(f"{app.title} API — ReDoc", head, body, csp=content_security_policy(style_nonce=nonce))

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
