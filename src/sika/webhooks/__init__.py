"""Inbound provider webhooks: verified, stored raw, processed by jobs."""
