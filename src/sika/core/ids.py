"""Public identifiers: a short prefix that names the kind, then a random part.

The random part is 128 bits, base32 without padding, so ids sort nowhere in
particular and leak no count of rows.
"""

from __future__ import annotations

import base64
import secrets

MAX_ID_LENGTH = 64


def new_id(prefix: str) -> str:
    raw = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()
    return f"{prefix}_{raw}"
