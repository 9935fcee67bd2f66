"""Where Sika may send a webhook. In production an endpoint is ``https`` and every
address its host resolves to is a public one: never loopback, private,
link-local (the clouds' metadata service, 169.254.169.254), shared, multicast or
reserved. The host is resolved again at each delivery and the request is sent to
the address just checked (a host that resolved to a public address when it was
registered may point inside later: DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from sika.core import errors

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EndpointUrlRefused(errors.ValidationFailed):
    """Webhook endpoints must be https URLs whose host resolves only to public addresses."""

    code = "webhook_endpoint_url_refused"


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL as given, and outside development the address to use."""

    url: str
    host: str
    address: str | None


def check_shape(url: str, *, production: bool) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks it: a port out of range or not a number raises
    except ValueError as exc:
        raise EndpointUrlRefused() from exc
    if parts.scheme not in ("https", "http") or not parts.hostname or any(c.isspace() for c in url):
        raise EndpointUrlRefused()
    if production and parts.scheme != "https":
        raise EndpointUrlRefused()
    if parts.username or parts.password:
        raise EndpointUrlRefused()


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EndpointUrlRefused() from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def target(url: str, *, production: bool) -> Target:
    """Check ``url`` and, in production, resolve its host to one public address to connect to."""
    check_shape(url, production=production)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not production:
        return Target(url=url, host=host, address=None)
    addresses = await _resolve(host, parts.port or 443)
    if not addresses or not all(is_public(a) for a in addresses):
        raise EndpointUrlRefused()
    return Target(url=url, host=host, address=str(addresses[0]))
