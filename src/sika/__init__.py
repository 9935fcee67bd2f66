"""Sika: a money-movement backend on a double-entry ledger in PostgreSQL."""

__version__ = "0.1.0"
