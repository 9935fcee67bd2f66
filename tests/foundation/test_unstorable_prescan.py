"""The text guard parses a JSON body only when its bytes could hold text
PostgreSQL cannot store: whatever a client sends, skipping the parse never
lets such text through."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sika.api.middleware import _MAY_HOLD_UNSTORABLE
from sika.core import text

documents = st.recursive(
    st.text() | st.integers() | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def unstorable(document: object) -> bool:
    if isinstance(document, str):
        return not text.is_storable(document)
    if isinstance(document, list):
        return any(unstorable(item) for item in document)
    if isinstance(document, dict):
        return any(unstorable(key) or unstorable(value) for key, value in document.items())
    return False


@given(documents, st.booleans())
def test_a_body_the_prescan_skips_holds_nothing_unstorable(document: object, ensure_ascii: bool) -> None:
    body = json.dumps(document, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    if _MAY_HOLD_UNSTORABLE.search(body) is None:
        assert not unstorable(json.loads(body))


@given(documents)
def test_every_unstorable_body_is_parsed(document: object) -> None:
    body = json.dumps(document).encode()
    if unstorable(json.loads(body)):
        assert _MAY_HOLD_UNSTORABLE.search(body) is not None
