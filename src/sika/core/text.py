"""Text PostgreSQL can store.

A ``text`` or ``jsonb`` value cannot hold U+0000 (NUL), and no UTF-8 text can
hold an unpaired surrogate (U+D800 to U+DFFF), which a Python string can: JSON's
``"\\ud800"`` escape decodes to one. Sent to the database, the first fails as a
``DataError`` and the second as a ``UnicodeEncodeError`` before the query
leaves. The API refuses such input at its edge with ``InvalidText``
(``sika.api.middleware``); text that must be kept anyway, a provider's prose,
is kept with those characters replaced.
"""

from __future__ import annotations

import re

from sika.core import errors

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
"""What ``storable`` puts in place of a character PostgreSQL cannot store."""


class InvalidText(errors.ValidationFailed):
    """Text in the request holds a character that cannot be stored: U+0000 (NUL) or an unpaired surrogate."""

    code = "invalid_text"


def problem(value: str) -> str | None:
    """What is wrong with ``value`` for PostgreSQL, in a sentence, or None if nothing is."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    character = found.group()
    what = "U+0000 (NUL)" if character == "\x00" else f"an unpaired surrogate (U+{ord(character):04X})"
    return f"Holds {what} at position {found.start()}, which cannot be stored."


def is_storable(value: str) -> bool:
    return _UNSTORABLE.search(value) is None


def storable(value: str) -> str:
    """``value`` with every character PostgreSQL cannot store replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, value)
