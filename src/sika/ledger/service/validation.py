"""Checks that need no database: ids, amounts, codes, metadata and timeouts
are refused here, before a transfer reaches ``ledger_apply_transfers``."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from sika.core import ids, money
from sika.ledger.service.errors import AmountOverflow, InvalidAmount, InvalidTransfer, TransferIdReserved

MAX_METADATA_BYTES = 4096
MAX_METADATA_KEYS = 32
MAX_TIMEOUT_SECONDS = 366 * 24 * 3600
"""A pending transfer may reserve funds for a year at most."""

# Matched whole (fullmatch): "$" would let a trailing newline through.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}"
"""Every account and transfer id; the API's document shows it (``ledger.schemas``)."""
CODE_PATTERN = r"[a-z][a-z0-9_.:-]{0,63}"
_ID_PATTERN = re.compile(ID_PATTERN)
_CODE_PATTERN = re.compile(CODE_PATTERN)


def check_amount(amount_minor: int) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidAmount()
    if amount_minor <= 0:
        raise InvalidAmount()
    if amount_minor > money.MAX_AMOUNT_MINOR:
        raise AmountOverflow(f"The amount may not exceed {money.MAX_AMOUNT_MINOR}.")
    return amount_minor


def check_transfer_id(transfer_id: str) -> str:
    if not _ID_PATTERN.fullmatch(transfer_id):
        raise InvalidTransfer("A transfer id is 1 to 64 characters: letters, digits and _ . : - (not first).")
    return transfer_id


def check_client_transfer_id(transfer_id: str) -> str:
    """A transfer or journal entry id a caller chose: refused if it begins like
    a Sika id, the shape of every id Sika makes or derives (``xfr_…``,
    ``hold_…``, ``col_….credit``, ``po_….reversal``), so that a caller never
    holds an id a domain will write later (its write would then fail)."""
    if ids.begins_like_sika_id(transfer_id):
        raise TransferIdReserved(
            f"Transfer id {transfer_id} is reserved: an id of your own may not begin like a Sika id"
            " (lowercase letters, _ and 26 of a-z and 2-7, as in xfr_…, hold_… or col_….credit).",
            transfer_id=transfer_id,
        )
    return transfer_id


def check_account_id(account_id: str) -> str:
    # Every account id has a transfer id's shape (generated, or checked by
    # ensure_account): anything else names no account, and may not even be
    # storable text (U+0000).
    if not _ID_PATTERN.fullmatch(account_id):
        raise InvalidTransfer(f"{account_id!r} is not a ledger account id.")
    return account_id


def check_code(code: str) -> str:
    if not _CODE_PATTERN.fullmatch(code):
        raise InvalidTransfer(
            "A transfer code is 1 to 64 characters: lowercase letters, digits and _ . : -, starting with a letter."
        )
    return code


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidTransfer(f"Metadata may hold at most {MAX_METADATA_KEYS} keys.")
    try:
        # No NaN or Infinity: JSON has neither, and jsonb refuses them.
        encoded = json.dumps(metadata, separators=(", ", ": "), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise InvalidTransfer("Metadata must be JSON (and a number finite).") from None
    try:
        size = len(encoded.encode()) + _jsonb_growth(metadata)
    except ValueError:
        raise InvalidTransfer("Metadata text may not contain U+0000 or a lone surrogate.") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidTransfer(f"Metadata may take at most {MAX_METADATA_BYTES} bytes.")
    return metadata


def _jsonb_growth(value: Any) -> int:
    """How much longer PostgreSQL writes ``value`` as jsonb text (what its size
    check measures) than ``json.dumps`` does: a number prints in full there
    (1e300 is 301 digits). Raises ``ValueError`` on a string jsonb cannot
    hold, in a key or a value: U+0000, or a lone surrogate."""
    if isinstance(value, str):
        _check_text(value)
        return 0
    if isinstance(value, float):
        return len(format(Decimal(repr(value)), "f")) - len(repr(value))
    if isinstance(value, dict):
        return sum(_jsonb_growth(key) + _jsonb_growth(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(_jsonb_growth(item) for item in value)
    return 0


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("U+0000 cannot be stored")
    text.encode()  # UnicodeEncodeError (a ValueError) on a lone surrogate


def check_timeout(timeout_seconds: int | None, *, pending: bool) -> int | None:
    if timeout_seconds is None:
        return None
    if not pending:
        raise InvalidTransfer("Only a pending transfer has a timeout.")
    if not 1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidTransfer(f"A timeout is 1 to {MAX_TIMEOUT_SECONDS} seconds.")
    return timeout_seconds


def transfer_id_for_key(*, owner: str, key: str) -> str:
    """A transfer id derived from a client's idempotency key, for the grouped
    path, which commits apart from the request: if the request's own commit
    is lost, the retry with the same key finds this transfer by its id
    instead of writing a second one."""
    return "xfr_" + ids.random_part(hashlib.sha256(f"{owner}\x00{key}".encode()).digest())
