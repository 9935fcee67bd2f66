"""What a path allows, said truthfully: ``OPTIONS`` is answered 204 with the
``Allow`` header, and a method a path does not take is refused 405 with the
same header.

Starlette answers a path's unknown method from the first route whose path
matches, so a path served by two routes (``GET`` and ``POST /v1/collections``
are two operations) would say ``Allow: GET`` alone, and ``OPTIONS`` would be a
405. Here every route of the path counts. A path that matches two templates
(``/v1/webhooks/events`` and ``/v1/webhooks/{provider}``) is the most literal
one's, as the OpenAPI document lists it. A CORS preflight never gets here:
``CORSMiddleware`` answers it when ``SIKA_CORS_ORIGINS`` is set."""

from __future__ import annotations

from fastapi import Request
from fastapi.routing import iter_route_contexts
from starlette.responses import Response
from starlette.routing import Match

ALWAYS = frozenset({"OPTIONS"})


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of the request's path: the methods its routes take, and ``OPTIONS``."""
    matching = [
        context
        for context in iter_route_contexts(request.app.routes)
        if context.methods and context.matches(request.scope)[0] is not Match.NONE
    ]
    fewest = min((len(context.param_convertors) for context in matching), default=0)
    methods = {
        method for context in matching if len(context.param_convertors) == fewest for method in context.methods or ()
    }
    return ", ".join(sorted(methods | ALWAYS))


def options(request: Request) -> Response:
    """The answer to ``OPTIONS`` on a path that exists: nothing but what it allows."""
    return Response(status_code=204, headers={"Allow": allowed_methods(request)})
