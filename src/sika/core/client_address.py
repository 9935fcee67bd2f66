"""Which address a request comes from when reverse proxies stand in front.

The connection's peer is the client unless it is a trusted proxy
(``TRUSTED_PROXIES``). Then ``X-Forwarded-For`` is read from the right, where
each proxy appended the address it saw, skipping trusted proxies: the first
address that is not one is the client. Everything to its left was written by
the client itself and may be forged, so it is never used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

UNKNOWN = "unknown"

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def resolve(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer`` is the connection's, ``forwarded_for`` every
    ``X-Forwarded-For`` header of the request in order."""
    if peer is None:
        return UNKNOWN
    peer_address = _parse(peer)
    if peer_address is None or not _is_trusted(peer_address, trusted):
        return peer
    client = peer_address
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # A trusted proxy passed on garbage from further out: the last sound hop is all we know.
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
