"""Public identifiers: a short prefix that names the kind, then a random part.

The random part is 128 bits, base32 without padding, so ids sort nowhere in
particular and leak no count of rows.

Ids Sika derives from one of its own (a collection's credit transfer
``col_….credit``, a payout's reversal ``po_….reversal``) start with that id,
then a separator. So every id Sika makes *begins like a Sika id*, and
``begins_like_sika_id`` is how the places that take a caller's own id (the
ledger API's transfer ids) keep such ids for Sika alone: a caller could
otherwise take, ahead of time, the id a domain will derive later.
"""

from __future__ import annotations

import base64
import re
import secrets

MAX_ID_LENGTH = 64
RANDOM_BYTES = 16
RANDOM_LENGTH = 26
"""Characters of base32 (``a-z``, ``2-7``) that ``RANDOM_BYTES`` make, without padding."""

_SIKA_ID_START = re.compile(rf"[a-z]+_[a-z2-7]{{{RANDOM_LENGTH}}}")


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_part(secrets.token_bytes(RANDOM_BYTES))}"


def random_part(digest: bytes) -> str:
    """``RANDOM_BYTES`` of ``digest`` in the form of an id's random part, for an id
    derived from something else (so it is reserved as ``new_id``'s are)."""
    return base64.b32encode(digest[:RANDOM_BYTES]).decode().rstrip("=").lower()


def begins_like_sika_id(value: str) -> bool:
    """Whether ``value`` starts with lowercase letters, ``_`` and 26 of ``a-z2-7``:
    the shape of ``new_id``'s ids, and so of every id Sika makes or derives."""
    return _SIKA_ID_START.match(value) is not None
