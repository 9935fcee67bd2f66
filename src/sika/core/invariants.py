"""Every domain's invariants in one registry: what ``sika check``, the
periodic check job and the dashboard run.

A domain with money states its invariants in its own ``invariants.py``: an
async check that takes the session and returns how many breaches it found
and the first ``MAX_BREACHES_PER_CHECK`` of them, registered with
``@invariant(name=…, domain=…, description=…)``. Nothing else is needed for
it to run everywhere: ``load`` imports every ``sika/<domain>/invariants.py``
there is (found on disk, so no list can miss one), and ``check_all`` loads
before it runs. The core names no domain; it finds them.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

MAX_BREACHES_PER_CHECK = 100
"""A check reports at most this many breaches, with the count of them all."""

_THIS_FILE = Path(__file__).resolve()
_PACKAGE_DIR = _THIS_FILE.parent.parent


@dataclass(frozen=True)
class Breach:
    check: str
    entity_type: str
    entity_id: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"[{self.check}] {self.entity_type} {self.entity_id}: {self.message}"


Check = Callable[[AsyncSession], Awaitable[tuple[int, list[Breach]]]]
"""``(how many breaches, the first MAX_BREACHES_PER_CHECK of them)``."""


@dataclass(frozen=True)
class Invariant:
    name: str
    """Unique across domains: it names the check in reports, alerts and metrics."""
    domain: str
    """The package that states it (``ledger``, ``wallets``…)."""
    description: str
    check: Check


@dataclass(frozen=True)
class CheckResult:
    name: str
    domain: str
    description: str
    breach_count: int
    breaches: tuple[Breach, ...]
    """The first ``MAX_BREACHES_PER_CHECK`` of them."""


@dataclass(frozen=True)
class Report:
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.breach_count == 0 for result in self.results)

    @property
    def breaches(self) -> list[Breach]:
        return [breach for result in self.results for breach in result.breaches]


_REGISTERED: dict[str, Invariant] = {}


def invariant(*, name: str, domain: str, description: str) -> Callable[[Check], Check]:
    """Register the decorated check; a name may be registered once (twice
    only by the same function, as a reloaded module does)."""

    def register(check: Check) -> Check:
        known = _REGISTERED.get(name)
        if known is not None and known.check is not check:
            raise ValueError(f"Invariant {name!r} is registered twice ({known.domain} and {domain})")
        _REGISTERED[name] = Invariant(name=name, domain=domain, description=description, check=check)
        return check

    return register


def invariant_modules() -> tuple[str, ...]:
    """Every domain's invariants module, by name, in the order of their domains' names."""
    paths = sorted(path for path in _PACKAGE_DIR.glob("*/invariants.py") if path.resolve() != _THIS_FILE)
    return tuple(f"sika.{path.parent.name}.invariants" for path in paths)


def load() -> tuple[Invariant, ...]:
    """Every registered invariant, each domain's module imported first:
    domains in the order of their names, each's in the order it states them."""
    modules = invariant_modules()
    for module in modules:
        importlib.import_module(module)
    rank = {module.split(".")[1]: index for index, module in enumerate(modules)}
    return tuple(sorted(_REGISTERED.values(), key=lambda found: rank.get(found.domain, len(rank))))


async def check_all(
    session: AsyncSession,
    *,
    on_check: Callable[[Invariant], None] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> Report:
    """Run every invariant in one snapshot, so they all see the same state:
    call it first thing in its transaction (it sets REPEATABLE READ).
    ``on_check(invariant)`` is called before each check, ``on_result(result)`` after it."""
    invariants = load()
    await session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    results = []
    for found in invariants:
        if on_check is not None:
            on_check(found)
        count, breaches = await found.check(session)
        result = CheckResult(
            name=found.name,
            domain=found.domain,
            description=found.description,
            breach_count=count,
            breaches=tuple(breaches),
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return Report(results=tuple(results))
