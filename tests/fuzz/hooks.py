"""Schemathesis hooks for the fuzz run (loaded by ``st`` from ``SCHEMATHESIS_HOOKS``).

Every POST carries a fresh Idempotency-Key, as a careful client sends one:
money routes require it, and a key the generator repeated would only meet
``idempotency_key_reused`` instead of the route. Every answer's operation and
method and status is appended to the file named by ``SIKA_FUZZ_TALLY``, so that the test
can tell which operations were reached and answered with success."""

from __future__ import annotations

import os
import uuid
from typing import Any

import schemathesis

TALLY_ENV = "SIKA_FUZZ_TALLY"


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    if case.method.upper() == "POST":
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], response: schemathesis.Response
) -> None:
    tally = os.environ.get(TALLY_ENV)
    if tally:
        with open(tally, "a", encoding="utf-8") as out:
            # The method sent, which is not the operation's when a case tries one the path does not take.
            out.write(f"{case.operation.label}\t{response.request.method}\t{response.status_code}\n")
