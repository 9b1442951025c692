"""The ``anniversary`` command: parse, call one function below, print.

The only place that reads the clock (:mod:`scheduler.cli.common`) and the only place
that turns a :class:`~scheduler.errors.SchedulerError` into ``Error: ...`` and an exit
code. Each command lives in the module of its topic: sending in ``send``, status and
plan in ``status``, the daemon in ``service``, the list in ``subscribers``, the
database in ``db``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from scheduler.errors import SchedulerError
from scheduler.logs import setup_logging


class AnniversaryGroup(click.Group):
    """Turns domain errors into one ``Error: ...`` line per problem, with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SchedulerError as exc:
            for line in str(exc).splitlines():
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=AnniversaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anniversary-scheduler")
@click.option("-v", "--verbose", count=True, help="-v logs each event (INFO), -vv everything (DEBUG).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="ANNIVERSARY_CONFIG",
    help="config.toml for any command (default ./config.toml); each command also takes --config.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, config_path: Path | None) -> None:
    """Yearly commemoration campaigns: computed anniversaries, organizer-edited
    templates, every subscriber reached once and on time.

    \b
    Example:
        anniversary check
        anniversary --config /etc/anniversary/config.toml status
        anniversary preview black-january day-of --language az
    """
    ctx.obj = {"config_path": config_path}
    setup_logging({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="anniversary")


def _register() -> None:
    from scheduler.cli import db, send, service, status, subscribers

    cli.add_command(subscribers.subscribers)
    from scheduler.cli import privacy

    subscribers.subscribers.add_command(privacy.show)
    subscribers.subscribers.add_command(privacy.forget)
    cli.add_command(db.db)
    from scheduler.cli.web import serve

    cli.add_command(serve)
    from scheduler.cli.studio import studio

    cli.add_command(studio)
    for command in send.COMMANDS + status.COMMANDS + service.COMMANDS:
        cli.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
