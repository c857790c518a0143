"""The client behind reverse proxies: ``X-Forwarded-For`` believed only from ``[web]
trusted_proxies``.

Anyone can send that header, so it says who the client is only when a proxy we run wrote it:
the connection must come from a trusted proxy, and the chain is read from the right (the hop
nearest to us) past every trusted proxy; the first address that is not one is the client, what
rate limits, the login lockout and the audit count. With no trusted proxy (the default) the
header is ignored and the client is the connection's peer. uvicorn's own forwarded-header
handling, which believes 127.0.0.1 by default, is switched off wherever trustdesk starts it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from trustdesk.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def forwarded_client(peer: str, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]) -> str:
    """The client of a connection from ``peer`` carrying these ``X-Forwarded-For`` headers.

    The right-most hop that is not a trusted proxy; when every hop is one, the left-most. A hop
    that is not an address ends the walk at the proxy that wrote it: a garbled header never
    names a client of its own choosing."""
    nearest = _address(peer)
    if nearest is None or not _trusted(nearest, proxies):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        nearest = address
        if not _trusted(address, proxies):
            break
    return str(nearest)


class ForwardedClient:
    """Sets the request's client (and scheme, from ``X-Forwarded-Proto``) from a trusted
    proxy's headers; a request that did not come through one is passed on untouched."""

    def __init__(self, app: ASGIApp, proxies: Sequence[IPNetwork]) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if self.proxies and scope["type"] in ("http", "websocket") and peer:
            scope = self._rewritten(scope, peer[0])
        await self.app(scope, receive, send)

    def _rewritten(self, scope: Scope, peer: str) -> Scope:
        address = _address(peer)
        if address is None or not _trusted(address, self.proxies):
            return scope
        headers = Headers(scope=scope)
        client = forwarded_client(peer, headers.getlist("x-forwarded-for"), self.proxies)
        scope = dict(scope, client=(client, 0))
        proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https") and scope["type"] == "http":
            scope["scheme"] = proto
        return scope
