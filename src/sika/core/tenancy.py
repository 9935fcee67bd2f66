"""Tenancy: each platform sees only what it owns, enforced in the one place every
ORM query goes through, the session.

A row a platform owns carries ``platform_id`` (its model inherits ``PlatformOwned``).
When the edge has authenticated a caller bound to one platform (a ``platform`` key,
a platform's own support key, a party token), it binds the request's session to
that platform (``bind``). From then on, every ORM ``SELECT``, ``UPDATE`` and
``DELETE`` that session runs carries ``platform_id = <that platform>`` for every
platform-owned table it touches, joins and subqueries included
(``with_loader_criteria``): another platform's party, wallet, hold, collection or
audit row is simply not there, so the route answers 404 without ever learning it
exists. Rows with no platform (system ledger accounts, global keys, alerts about
the installation) are invisible to a bound session too.

So a repository function never has to remember a filter, and a new one cannot
forget it. Global operators (keys bound to no platform, jobs, the CLI) run
unbound and see every platform; the dashboard binds a global operator's session
to the platform they filter on.

A domain that must reach a system row on a platform's behalf (a top-up's funding
account, a provider's clearing account) says so on that one statement with
``ALL_PLATFORMS``. Writes are checked too: a bound session refuses to flush a
platform-owned row of another platform (``CrossPlatformWrite``), a bug rather
than a refusal. The database adds its own guarantee: each child row's platform
is its parent's, by composite foreign keys (migration ``0010``).

Why not PostgreSQL row-level security: the embedded server and most managed
ones connect as the table owner or a superuser, which RLS does not bind unless
roles are split; see docs/decisions/0005-tenancy.md."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, orm
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

PLATFORM_KEY = "sika_platform_id"
"""Where a bound session keeps its platform (``Session.info``)."""

ALL_PLATFORMS = {"sika_all_platforms": True}
"""Execution options of a statement that must see every platform's rows (a
system account reached on a platform's behalf): ``.execution_options(**ALL_PLATFORMS)``."""

DEFAULT_PLATFORM_ID = "plt_default"
"""The platform an upgraded installation's rows were put under (migration ``0010``)."""


class PlatformOwned:
    """A model whose rows belong to one platform. Each model declares its own
    ``platform_id`` (nullable or not); this one is what the platform filter is
    written against, for all of them at once."""

    platform_id: Mapped[str | None] = mapped_column(sa.String(64), sa.ForeignKey("platforms.id"))


class CrossPlatformWrite(RuntimeError):
    """A bound session was about to write another platform's row: a bug, never a refusal."""


Criteria = Callable[[str], Callable[[Any], sa.ColumnElement[bool]]]
_EXTRA: list[tuple[type[Any], Criteria]] = []
"""Models whose visibility is not their own ``platform_id`` column (a platform is
visible to itself; a ledger transfer to the platforms of its accounts)."""


def visible_when(model: type[Any], criteria: Criteria) -> None:
    """Declare how a bound session sees ``model``: ``criteria(platform_id)`` is a lambda of
    the mapped class (so SQLAlchemy caches its SQL and binds the platform as a parameter)."""
    _EXTRA.append((model, criteria))
    _criteria_options.cache_clear()


def bind(session: AsyncSession, platform_id: str | None) -> None:
    """Bind ``session`` to ``platform_id`` (None leaves it unbound: a global operator)."""
    if platform_id is None:
        session.sync_session.info.pop(PLATFORM_KEY, None)
    else:
        session.sync_session.info[PLATFORM_KEY] = platform_id


def bound_platform(session: AsyncSession) -> str | None:
    """The platform ``session`` is bound to, or None for an unbound one."""
    value = session.sync_session.info.get(PLATFORM_KEY)
    return value if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)
def _criteria_options(platform_id: str) -> tuple[orm.LoaderCriteriaOption, ...]:
    """The options that filter a statement to ``platform_id``, made once per platform:
    building them is most of what the filter costs, and they never change."""
    own = orm.with_loader_criteria(PlatformOwned, lambda cls: cls.platform_id == platform_id, include_aliases=True)
    extra = (orm.with_loader_criteria(model, criteria(platform_id), include_aliases=True) for model, criteria in _EXTRA)
    return (own, *extra)


@event.listens_for(orm.Session, "do_orm_execute")
def _filter_by_platform(state: orm.ORMExecuteState) -> None:
    platform_id = state.session.info.get(PLATFORM_KEY)
    if platform_id is None or state.is_column_load or state.is_relationship_load:
        return
    if state.execution_options.get("sika_all_platforms", False):
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = _filtered(state.statement, platform_id)


_FILTERED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
"""Per statement, its filtered copy for each platform, for as long as the statement lives."""


def _filtered(statement: Any, platform_id: str) -> Any:
    """``statement`` filtered to ``platform_id``, the same copy each time for the same
    statement: SQLAlchemy keys its compiled SQL by a statement's structure, which a
    statement works out once (memoized) but a fresh copy works out again. The hot
    paths' statements are built once (``sika.wallets.repository``), so they reach
    their compiled SQL without walking their structure on every request."""
    copies = _FILTERED.setdefault(statement, {})
    copy = copies.get(platform_id)
    if copy is None:
        copy = copies[platform_id] = statement.options(*_criteria_options(platform_id))
    return copy


@event.listens_for(orm.Session, "before_flush")
def _refuse_other_platforms(session: orm.Session, context: object, instances: object) -> None:
    platform_id = session.info.get(PLATFORM_KEY)
    if platform_id is None:
        return
    for row in (*session.new, *session.dirty):
        if isinstance(row, PlatformOwned):
            owner = getattr(row, "platform_id", None)
            if owner is not None and owner != platform_id:
                raise CrossPlatformWrite(
                    f"A session bound to {platform_id} was about to write a {type(row).__name__} of {owner}"
                )
