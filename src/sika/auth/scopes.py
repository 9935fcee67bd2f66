"""Scopes an API key may carry. ``admin`` may do everything."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    admin = "admin"
    """Operations: API keys, top-ups, everything else."""
    platform = "platform"
    """A platform integrating server-to-server: moves money for its parties."""
    support = "support"
    """Support staff: read everything, audit log and alerts."""
    read = "read"
    """Read-only dashboards and reports."""


def allows(held: frozenset[str], needed: frozenset[str]) -> bool:
    """True when the holder has any of the needed scopes, or is admin."""
    return Scope.admin in held or bool(held & needed)
