"""What the P2P rules are asked about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outgoing:
    """Money about to leave one party for another."""

    id: str
    """The transfer's id, or the captured hold's."""
    kind: str
    """``transfer`` or ``capture``."""
    platform_id: str
    sender_party_id: str
    recipient_party_id: str
    currency: str
    amount_minor: int
