"""Secrets an answer shows once are never kept in the idempotency store.

A response model marks each field that carries such a secret (an API key's
``secret``, a party token's ``token``) as ``Annotated[str, ShownOnce()]``.
The answer kept under an Idempotency-Key (what a replay gets back) has that
field's value replaced by ``REDACTED``: the secret lives only in the first
answer, and a dump of the database holds none of it. Only top-level fields of
a JSON object are looked at, which is where response models put them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel

REDACTED = "REDACTED: shown once, in the first answer only"


@dataclass(frozen=True)
class ShownOnce:
    """Marks a response field whose secret value is shown once and never stored."""


def fields_of(model: object) -> frozenset[str]:
    """The JSON names of ``model``'s fields marked ``ShownOnce``; none if it is no model."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return frozenset()
    return frozenset(
        field.serialization_alias or field.alias or name
        for name, field in model.model_fields.items()
        if any(isinstance(marker, ShownOnce) for marker in field.metadata)
    )


def redact(body: bytes, fields: frozenset[str]) -> bytes:
    """``body`` with the value of each of ``fields`` replaced by ``REDACTED``."""
    if not fields:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict) or not fields & document.keys():
        return body
    for name in fields & document.keys():
        document[name] = REDACTED
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
