"""The API routes of an app as tests walk them: each route's effective path,
methods and name (through included routers), its tags, and the calls of every
dependency it declares, where Sika's dependencies mark what they check."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute


@dataclass(frozen=True)
class Route:
    path: str
    """As served, with the prefixes of the routers it was included through."""
    methods: frozenset[str]
    name: str
    original: APIRoute
    """The route as declared: its tags and response model."""
    dependant: Dependant
    """Its dependencies, those of the routers it was included through among them."""

    def dependency_calls(self) -> Iterator[Any]:
        """The callable of every dependency, nested ones included."""
        return _calls(self.dependant)

    def marked(self, mark: str) -> bool:
        """Whether a dependency carries ``mark`` (``sika_public``, ``sika_allow_party``…) set true."""
        return any(getattr(call, mark, False) for call in self.dependency_calls())


def api_routes(routes: Sequence[BaseRoute]) -> list[Route]:
    found = []
    for context in iter_route_contexts(routes):
        original = context.original_route
        if not isinstance(original, APIRoute):
            continue
        # An API route always has them; the context types them optional because a mount has none.
        assert context.path is not None
        assert context.name is not None
        assert context.methods is not None
        dependant = context.dependant
        assert isinstance(dependant, Dependant)
        found.append(
            Route(
                path=context.path,
                methods=frozenset(context.methods),
                name=context.name,
                original=original,
                dependant=dependant,
            )
        )
    return found


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)
