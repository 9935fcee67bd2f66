"""Cursor pagination over HTTP: a cursor is an opaque token around the last
position seen, so clients cannot build one by hand and the encoding may change.

Every list route answers the same envelope, ``{"data": [...], "next_cursor"}``
(``next_cursor`` null on the last page), newest first, and takes ``page: Page``:
its ``cursor`` and ``limit`` query parameters, the cursor decoded with
``decode_int_cursor``. A list read as an outbox (domain events) takes
``OrderedPage`` instead, which adds ``order=oldest``. A position is a ``seq``, a
PostgreSQL BIGINT, so a cursor is refused (400 ``invalid_cursor``) unless it is
short, strict URL-safe base64, and decodes to ASCII digits that fit a BIGINT.
A table without a ``seq`` (API keys) pages by creation time and id instead
(``decode_time_cursor``), checked as strictly."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Protocol

from fastapi import Depends, Query

from sika.core import errors, paging

MAX_POSITION = 2**63 - 1
"""The largest BIGINT."""
MAX_CURSOR_LENGTH = 32
"""Characters; the cursor of ``MAX_POSITION`` (19 digits) has 26."""
_POSITION = re.compile(rb"[0-9]{1,19}")
MAX_TIME_CURSOR_LENGTH = 128
_TIME_POSITION = re.compile(rb"([0-9]{1,19})\.([a-z0-9_]{1,64})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(errors.SikaError):
    """The pagination cursor is not valid: pass back the next_cursor exactly as it was given."""

    code = "invalid_cursor"


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def _decoded(cursor: str, max_length: int) -> bytes:
    if len(cursor) > max_length or not cursor.isascii():
        raise InvalidCursor()
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise InvalidCursor() from None


def decode_int_cursor(cursor: str | None) -> int | None:
    """The position inside ``cursor``, or None for the first page."""
    if cursor is None:
        return None
    raw = _decoded(cursor, MAX_CURSOR_LENGTH)
    # Not str.isdigit(), which takes "²" and other Unicode digits that int() then refuses or misreads.
    if _POSITION.fullmatch(raw) is None or int(raw) > MAX_POSITION:
        raise InvalidCursor()
    return int(raw)


def encode_time_cursor(created_at: datetime, row_id: str) -> str:
    """A cursor after the row created at ``created_at`` with id ``row_id`` (newest first)."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{row_id}".encode()).decode().rstrip("=")


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The creation time and id inside a cursor of ``encode_time_cursor``, or None for the first page."""
    if cursor is None:
        return None
    found = _TIME_POSITION.fullmatch(_decoded(cursor, MAX_TIME_CURSOR_LENGTH))
    if found is None or int(found[1]) > MAX_POSITION:
        raise InvalidCursor()
    try:
        created_at = _EPOCH + timedelta(microseconds=int(found[1]))
    except OverflowError:
        raise InvalidCursor() from None
    return created_at, found[2].decode()


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


async def page_of(
    cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT
) -> paging.Page:
    return paging.Page(after=decode_int_cursor(cursor), limit=limit)


Page = Annotated[paging.Page, Depends(page_of)]
"""The page a list route was asked for (``?cursor=…&limit=…``)."""

Order = Literal["newest", "oldest"]


async def ordered_page_of(
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
    order: Annotated[
        Order, Query(description="`newest` first (the default, as every list), or `oldest` first to read an outbox.")
    ] = "newest",
) -> paging.Page:
    return paging.Page(after=decode_int_cursor(cursor), limit=limit, newest_first=order == "newest")


OrderedPage = Annotated[paging.Page, Depends(ordered_page_of)]
"""A page of a list that may also be read oldest first (``?order=oldest``); a
cursor continues in the order it was given in."""


def next_cursor(rows: Sequence[Sequenced], limit: int) -> str | None:
    """The cursor after a page of at most ``limit`` rows: none when it was not
    full, since a short page is the last one."""
    return encode_cursor(rows[-1].seq) if rows and len(rows) == limit else None
