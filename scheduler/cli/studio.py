"""``anniversary studio``: the organizers' preview app in a browser (README: The studio)."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.cli.common import config_option, get_config, utcnow
from scheduler.studio.serve import is_loopback, parse_bind, serve


@click.command()
@click.option(
    "--bind", default=None, metavar="HOST:PORT", help="Where to listen (default [studio] bind, 127.0.0.1:8090)."
)
@click.option(
    "--allow-any-address", is_flag=True, help="Let 'Send test to…' mail any address, not only organizers.emails."
)
@config_option
def studio(bind: str | None, allow_any_address: bool, config_path: Path | None) -> None:
    """Open the studio: every stage as each subscriber gets it, for any year, language
    and zone, updated as templates and config.toml are saved. Localhost only by default.

    \b
    Example:
        anniversary studio
        anniversary studio --bind 127.0.0.1:9000 --allow-any-address
    """
    config = get_config(config_path)
    where = bind or config.studio.bind
    host, _ = parse_bind(where)
    if not is_loopback(host):
        click.echo(f"Warning: the studio has no login; {host} is reachable from other machines", err=True)
    serve(
        config.path,
        where,
        clock=utcnow,
        allow_any_address=allow_any_address,
        announce=lambda url: click.echo(f"studio: {url} (Ctrl-C to stop)"),
    )
