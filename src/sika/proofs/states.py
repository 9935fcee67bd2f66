"""The states of a proof."""

from __future__ import annotations

from enum import StrEnum


class ProofStatus(StrEnum):
    pending_review = "pending_review"
    """A check failed, some data was missing, or the rule does not approve on its own: an operator decides."""
    approved = "approved"
    rejected = "rejected"


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"
