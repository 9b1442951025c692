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


#: each command's module and name in it, imported only when that command runs (or
#: ``--help`` lists them): ``status`` must not pay for the web app's imports
#: (BENCHMARKS.md, status at a million)
LAZY: dict[str, str] = {
    "check": "send:check",
    "preview": "send:preview",
    "send": "send:send",
    "send-test": "send:send_test",
    "run-due": "send:run_due",
    "resend": "send:resend",
    "demo": "send:demo",
    "status": "status:status",
    "plan": "status:plan",
    "daemon": "service:daemon",
    "heads-up": "service:heads_up",
    "subscribers": "subscribers:subscribers",
    "db": "db:db",
    "serve": "web:serve",
    "studio": "studio:studio",
}


def _load(name: str) -> click.Command | None:
    import importlib

    where = LAZY.get(name)
    if where is None:
        return None
    module, attr = where.split(":")
    command: click.Command = getattr(importlib.import_module(f"scheduler.cli.{module}"), attr)
    return command


def _list(ctx: click.Context) -> list[str]:
    return sorted(LAZY)


def _get(ctx: click.Context, name: str) -> click.Command | None:
    return cli.commands.get(name) or _load(name)


cli.list_commands = _list  # type: ignore[method-assign]
cli.get_command = _get  # type: ignore[method-assign]

if __name__ == "__main__":  # pragma: no cover
    main()
