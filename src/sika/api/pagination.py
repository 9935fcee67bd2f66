"""Cursor pagination: a cursor is an opaque token around the last position
seen, so clients cannot build one by hand and the encoding may change.

Every list decodes its ``cursor`` with ``decode_int_cursor``: a position is a
``seq``, a PostgreSQL BIGINT, so a cursor is refused (400 ``invalid_cursor``)
unless it is short, strict URL-safe base64, and decodes to ASCII digits that
fit a BIGINT."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Protocol

from sika.core import errors

MAX_LIMIT = 200
MAX_POSITION = 2**63 - 1
"""The largest BIGINT."""
MAX_CURSOR_LENGTH = 32
"""Characters; the cursor of ``MAX_POSITION`` (19 digits) has 26."""
_POSITION = re.compile(rb"[0-9]{1,19}")


class InvalidCursor(errors.SikaError):
    """The pagination cursor is not valid: pass back a ``next_cursor`` exactly as it was given."""

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


def next_cursor(rows: Sequence[Sequenced], limit: int) -> str | None:
    """The cursor after a newest-first page: none when the page was not full,
    since a short page is the last one."""
    return encode_cursor(rows[-1].seq) if rows and len(rows) == limit else None
