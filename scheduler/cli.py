"""The ``anniversary`` command. The only place that reads the clock and the only place
that turns a :class:`~scheduler.errors.SchedulerError` into ``Error: ...`` and an exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from scheduler.config import DEFAULT_CONFIG, Config, load_config
from scheduler.errors import SchedulerError, UsageError
from scheduler.logs import setup_logging

F = TypeVar("F", bound=Callable[..., Any])


def utcnow() -> datetime:
    """The clock. Only commands call it; the core takes ``now`` as a parameter."""
    return datetime.now(UTC)


def parse_now(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: not an ISO-8601 date-time: {value!r} (e.g. 2027-01-13T06:00:00Z)") from None
    if moment.tzinfo is None:
        raise UsageError(f"--now: {value!r} has no UTC offset; add Z or +04:00")
    return moment.astimezone(UTC)


class AnniversaryGroup(click.Group):
    """Turns domain errors into one ``Error: ...`` line per problem, with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SchedulerError as exc:
            for line in str(exc).splitlines():
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_CONFIG,
        show_default=True,
        envvar="ANNIVERSARY_CONFIG",
        help="config.toml to use; relative paths inside it resolve against its folder.",
    )(func)


def get_config(path: Path) -> Config:
    return load_config(path)


@click.group(cls=AnniversaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anniversary-scheduler")
@click.option("-v", "--verbose", count=True, help="-v logs each event (INFO), -vv everything (DEBUG).")
def cli(verbose: int) -> None:
    """Yearly commemoration campaigns: computed anniversaries, organizer-edited
    templates, every subscriber reached once and on time.

    \b
    Example:
        anniversary check
        anniversary preview black-january day-of --language az
    """
    import logging

    setup_logging({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="anniversary")


def _register() -> None:
    from scheduler import cli_daemon, cli_delivery, cli_run, cli_subscribers

    cli.add_command(cli_subscribers.subscribers)
    for command in cli_run.COMMANDS + cli_daemon.COMMANDS + cli_delivery.COMMANDS:
        cli.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
