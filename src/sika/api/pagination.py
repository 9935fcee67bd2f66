"""Cursor pagination over HTTP: a cursor is an opaque token around the last
position seen, so clients cannot build one by hand and the encoding may change.

Every list route takes ``page: Page``: its ``cursor`` and ``limit`` query
parameters, the cursor decoded with ``decode_int_cursor``. A position is a
``seq``, a PostgreSQL BIGINT, so a cursor is refused (400 ``invalid_cursor``)
unless it is short, strict URL-safe base64, and decodes to ASCII digits that
fit a BIGINT."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Annotated, Protocol

from fastapi import Depends, Query

from sika.core import errors, paging

MAX_POSITION = 2**63 - 1
"""The largest BIGINT."""
MAX_CURSOR_LENGTH = 32
"""Characters; the cursor of ``MAX_POSITION`` (19 digits) has 26."""
_POSITION = re.compile(rb"[0-9]{1,19}")


class InvalidCursor(errors.SikaError):
    """The pagination cursor is not valid: pass back the next_cursor exactly as it was given."""

    code = "invalid_cursor"


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def decode_int_cursor(cursor: str | None) -> int | None:
    """The position inside ``cursor``, or None for the first page."""
    if cursor is None:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise InvalidCursor()
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise InvalidCursor() from None
    # Not str.isdigit(), which takes "²" and other Unicode digits that int() then refuses or misreads.
    if _POSITION.fullmatch(raw) is None or int(raw) > MAX_POSITION:
        raise InvalidCursor()
    return int(raw)


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


def page_of(
    cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT
) -> paging.Page:
    return paging.Page(after=decode_int_cursor(cursor), limit=limit)


Page = Annotated[paging.Page, Depends(page_of)]
"""The page a list route was asked for (``?cursor=…&limit=…``)."""


def next_cursor(rows: Sequence[Sequenced], limit: int) -> str | None:
    """The cursor after a page of at most ``limit`` rows: none when it was not
    full, since a short page is the last one."""
    return encode_cursor(rows[-1].seq) if rows and len(rows) == limit else None
