"""Every error leaves as RFC 9457 ``application/problem+json``: domain errors
through one table (their ``status`` and ``code``), validation errors with one
entry per field, a value the database refuses as a 422, and anything
unexpected as a bare 500 whose traceback stays in the server log."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from sika.api import allow, messages_fr
from sika.core import errors, text

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://sika.dev/problems/"
CLIENT_CLOSED_REQUEST = 499

log = structlog.get_logger(__name__)

# French titles, served when the caller prefers French (Accept-Language: fr).
TITLES_FR: dict[str, str] = {
    "Bad request": "Requête invalide",
    "Validation failed": "Validation échouée",
    "Not authenticated": "Non authentifié",
    "Permission denied": "Accès refusé",
    "Not found": "Introuvable",
    "Conflict": "Conflit",
    "Payload too large": "Requête trop volumineuse",
    "Too many requests": "Trop de requêtes",
    "Service unavailable": "Service indisponible",
    "Internal server error": "Erreur interne du serveur",
    "Method not allowed": "Méthode non autorisée",
    "Unsupported media type": "Type de contenu non pris en charge",
    "Precondition required": "Condition préalable requise",
}

_HTTP_CODES: dict[int, tuple[str, str]] = {
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
}


def request_id_of(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def prefers_french(request: Request) -> bool:
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return first.startswith("fr")


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    detail_en = None
    if prefers_french(request):
        title = TITLES_FR.get(title, title)
        french = messages_fr.DETAILS_FR.get(code)
        if french is not None:
            # The French message is the code's general one; the English detail may carry
            # specifics (amounts, limits, fields), so it travels along.
            detail, detail_en = french, detail
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id_of(request),
        "instance": request.url.path,
    }
    if detail_en is not None:
        body["detail_en"] = detail_en
    if extra:
        # ``status`` is the HTTP status (RFC 9457): a refusal naming the state its object
        # was found in (``EscrowStateConflict(..., status="funded")``) says so as ``state``.
        body.update({("state" if name == "status" else name): value for name, value in extra.items()})
    return Response(
        content=json.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def domain_problem(request: Request, error: errors.SikaError) -> Response:
    headers = None
    retry_after = error.extra.get("retry_after_seconds")
    if retry_after is not None:
        headers = {"Retry-After": str(int(retry_after))}
    return problem_response(
        request,
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        extra={k: v for k, v in error.extra.items() if k != "retry_after_seconds"} or None,
        headers=headers,
    )


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.SikaError)
    return domain_problem(request, exc)


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    fields = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    if any(field["type"] == "json_invalid" for field in fields):
        # A body that is not JSON at all is a malformed request, not a field-level problem.
        return problem_response(
            request,
            status=400,
            code="malformed_json",
            title="Bad request",
            detail="The request body is not valid JSON.",
            extra={"errors": fields},
        )
    return problem_response(
        request,
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail="The request is not valid; see errors for each field.",
        extra={"errors": fields},
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(request, exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "Bad request"))
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        # The router raises 405 for any method a path's first route does not take, OPTIONS included.
        if request.method == "OPTIONS":
            return allow.options(request)
        headers = {**(headers or {}), "Allow": allow.allowed_methods(request)}
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=title,
        detail=str(exc.detail),
        headers=headers,
    )


class UnsupportedMediaType(errors.SikaError):
    """This route takes a JSON body: send it with Content-Type: application/json."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class InvalidValue(errors.ValidationFailed):
    """A value in the request is one the database cannot store (a number out of its range, say)."""

    code = "invalid_value"


_TEXT_SQLSTATES = frozenset({"22021", "22P05"})
"""character_not_in_repertoire, untranslatable_character: text the database cannot hold."""


def _refused_value(orig: BaseException) -> errors.ValidationFailed:
    sqlstate = getattr(orig, "sqlstate", None)
    # psycopg refuses a NUL itself, before the query leaves, with no SQLSTATE.
    if sqlstate in _TEXT_SQLSTATES or (sqlstate is None and "NUL" in str(orig)):
        return text.InvalidText()
    return InvalidValue()


async def _on_data_error(request: Request, exc: Exception) -> Response:
    """A value the database refused (a ``DataError``): the request's fault,
    never a 500. Input is checked before it gets here (``TextGuardMiddleware``,
    the schemas); this is what catches whatever a check misses."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    log.warning(
        "value_refused_by_database",
        path=request.url.path,
        error=type(orig).__name__,
        sqlstate=getattr(orig, "sqlstate", None),
    )
    return domain_problem(request, _refused_value(orig))


async def _on_encode_error(request: Request, exc: Exception) -> Response:
    """Text with an unpaired surrogate cannot be encoded for the database
    (psycopg raises before the query leaves). Any other encoding failure is a
    bug, and stays a 500."""
    assert isinstance(exc, UnicodeEncodeError)
    if text.is_storable(exc.object[exc.start : exc.end]):
        raise exc
    log.warning("unencodable_text", path=request.url.path, encoding=exc.encoding)
    return domain_problem(request, text.InvalidText())


async def _on_client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away while its request was being read: nobody is there to answer,
    and nothing went wrong on our side (the request's transaction rolled back). 499, the
    status proxies log for it, so that the request log says what happened."""
    log.info("client_disconnected", path=request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _on_unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="An unexpected error occurred. Quote the request id when reporting it.",
        # This handler runs outside the request-id middleware, so it echoes the id itself.
        headers={"X-Request-ID": request_id_of(request) or ""},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.SikaError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    # Handled here, not as 500s: a 500 also closes the client's keep-alive connection
    # (the server error middleware re-raises, and the server drops the connection).
    app.add_exception_handler(sa.exc.DataError, _on_data_error)
    app.add_exception_handler(psycopg.DataError, _on_data_error)
    app.add_exception_handler(UnicodeEncodeError, _on_encode_error)
    app.add_exception_handler(ClientDisconnect, _on_client_disconnect)
    app.add_exception_handler(Exception, _on_unexpected_error)
