"""The headers every answer carries, and who the client is (README: The web app).

The pages load nothing but their own stylesheet and script, so the policy allows
nothing else: no inline script or style, no frames, no other origins, forms posting
only back here. A plain ASGI middleware, not ``BaseHTTPMiddleware``: it adds headers to
the start message and never buffers a body, so it costs the one-click path next to
nothing (BENCHMARKS.md, the web app under load)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # Pages hold a token in their URL and forms: no shared cache should keep them.
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in have and not (static and k == b"cache-control")]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(trusted: Iterable[str]) -> list[Network]:
    """``[web] trusted_proxies`` as networks (config validation has checked each)."""
    return [ipaddress.ip_network(item, strict=False) for item in trusted]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Any, trusted: list[Network]) -> bool:
    return address is not None and any(address in net for net in trusted)


def client_ip(peer: str | None, forwarded_for: list[str], trusted: list[Network]) -> str | None:
    """The client's address. ``X-Forwarded-For`` is believed only when the connection
    comes from a trusted proxy; then the nearest address in it that is not itself a
    trusted proxy is the client (each proxy appends the address it saw, so only the
    right-hand part, written by our own proxies, can be trusted; the left may be forged).
    """
    peer_address = _address(peer) if peer else None
    if not forwarded_for or not _trusted(peer_address, trusted):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # A value that is not an address ends what can be believed.
            break
        if not _trusted(address, trusted):
            return str(address)
        peer_address = address
    return str(peer_address) if peer_address is not None else peer
