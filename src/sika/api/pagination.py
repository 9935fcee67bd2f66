"""Cursor pagination: a cursor is an opaque token around the last position
seen, so clients cannot build one by hand and the encoding may change."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol

from sika.core import errors

MAX_LIMIT = 200


class InvalidCursor(errors.ValidationFailed):
    """The pagination cursor is not valid."""

    code = "invalid_cursor"


def encode_cursor(position: str | int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor() from None


def decode_int_cursor(cursor: str | None) -> int | None:
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidCursor()
    return int(raw)


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


def next_cursor(rows: Sequence[Sequenced], limit: int) -> str | None:
    """The cursor after a newest-first page: none when the page was not full,
    since a short page is the last one."""
    return encode_cursor(rows[-1].seq) if rows and len(rows) == limit else None
