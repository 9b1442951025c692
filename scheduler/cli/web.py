"""``anniversary serve``: the public web app (README: The web app) under uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from scheduler.cli.common import config_option, get_config, utcnow
from scheduler.config.web import host_port
from scheduler.errors import UsageError


def split_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` as uvicorn takes it; a bad one is one UsageError line."""
    try:
        return host_port(value)
    except ValueError as exc:
        raise UsageError(f"--bind: {exc}") from None


@click.command()
@click.option("--bind", default=None, metavar="HOST:PORT", help="Address to listen on (default: [web] bind).")
@config_option
def serve(bind: str | None, config_path: Path | None) -> None:
    """Serve the sign-up, confirmation, one-click unsubscribe and preferences pages at
    the path of sender.public_url, behind a reverse proxy (deploy/). Upgrades the
    database first, as the daemon does. X-Forwarded-For is believed only from
    [web] trusted_proxies.

    \b
    Example:
        anniversary serve --config /etc/anniversary/config.toml
        anniversary serve --bind 127.0.0.1:8081
    """
    import uvicorn

    from scheduler.studio.serve import open_socket
    from scheduler.web.app import base_path, create_app

    config = get_config(config_path)
    host, port = split_bind(bind or config.web.bind)
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    app = create_app(config, clock=utcnow)
    # A port in use is one line and exit 2 like any other bad --bind, not uvicorn's log
    # and exit 3: tried here first. Handing uvicorn an open socket instead measured a
    # steady 44 ms a request under load (BENCHMARKS.md, one-click under load; the
    # cause, likely Nagle's algorithm against delayed ACKs, was not pinned down).
    open_socket(host, port).close()
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving {config.sender.public_url} at http://{shown}:{port}{base_path(config.sender.public_url)}/")
    uvicorn.run(
        app,
        host=host,
        port=port,
        # X-Forwarded-For is read by the app itself, from trusted proxies only.
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        # An access log would keep every link's token; errors still go to the log.
        access_log=False,
        log_config=None,
    )
