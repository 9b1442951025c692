"""Running the studio: bind first (so a port in use is one clear line, not a log
trace), then serve with uvicorn until interrupted."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import uvicorn

from scheduler.config.web import host_port
from scheduler.errors import UsageError
from scheduler.studio.app import create_app

#: names a browser on this machine uses for the loopback address
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port); UsageError naming what is allowed."""
    try:
        return host_port(text)
    except ValueError as exc:
        raise UsageError(f"--bind {exc}") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--bind {host}:{port}: cannot listen there ({exc.strerror})") from None
    sock.listen(64)
    return sock


def serve(
    config_path: Path,
    bind: str,
    *,
    clock: Callable[[], datetime],
    allow_any_address: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the studio on ``bind`` until interrupted; ``announce`` gets its URL once it
    listens."""
    host, port = parse_bind(bind)
    sock = open_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    # On a loopback address the studio answers only to loopback names (README: The
    # studio); bound elsewhere on purpose, to any.
    allowed = {f"{name}:{port}" for name in (*LOOPBACK_NAMES, shown)} if is_loopback(host) else None
    app = create_app(config_path, clock=clock, allow_any_address=allow_any_address, allowed_hosts=allowed)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on", access_log=False)
    )
    announce(f"http://{shown}:{port}/")
    server.run(sockets=[sock])
