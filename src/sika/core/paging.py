"""Pages of a list: which page a caller wants (``Page``), the one limit on its
size, and the query that reads it.

Every list is ordered by its rows' ``seq`` (a BIGINT that only grows) and a
page starts after the ``seq`` of the last row of the page before, so pages
never skip or repeat rows while rows are added."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

MAX_LIMIT = 200
"""The most rows one page holds, whatever is asked."""
DEFAULT_LIMIT = 50

_Row = TypeVar("_Row")


@dataclass(frozen=True)
class Page:
    """The rows after position ``after`` (the ``seq`` of the last row seen;
    None for the first page), at most ``limit`` of them."""

    after: int | None = None
    limit: int = DEFAULT_LIMIT
    newest_first: bool = True


FIRST_PAGE = Page()


def paged(query: sa.Select[_Row], seq: QueryableAttribute[int], page: Page) -> sa.Select[_Row]:
    """``query`` ordered by ``seq``, newest first unless the page says otherwise,
    limited to ``page``: the rows after ``page.after``, at most ``page.limit``
    (and never more than ``MAX_LIMIT``)."""
    if page.newest_first:
        query = query.order_by(seq.desc())
        if page.after is not None:
            query = query.where(seq < page.after)
    else:
        query = query.order_by(seq)
        if page.after is not None:
            query = query.where(seq > page.after)
    return query.limit(min(page.limit, MAX_LIMIT))
