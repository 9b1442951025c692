"""Commands that only read: status and plan."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.cli.common import config_option, get_config, open_store, parse_now, utcnow
from scheduler.delivery.report import letter_lines, plan_lines, status_lines


@click.command()
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@config_option
def status(year: int | None, config_path: Path | None) -> None:
    """Per campaign and stage: the next send time (UTC and the event's zone), the count
    in each ledger state, the unknown entries and how to resend them; then the plan.

    \b
    Example:
        anniversary status --year 2027
    """
    config = get_config(config_path)
    store = open_store(config)
    for line in status_lines(config, store, utcnow(), year):
        click.echo(line)
    for line in letter_lines(config, store, utcnow(), year):
        click.echo(line)


@click.command()
@click.option("--now", "now_text", default=None, help="Show the plan as of this ISO-8601 moment (with offset).")
@config_option
def plan(now_text: str | None, config_path: Path | None) -> None:
    """Show the daemon's plan: each stage's next send per subscriber zone, in UTC, the
    event's zone and local time; the organizers' heads-up; the last run.

    \b
    Example:
        anniversary plan
    """
    config = get_config(config_path)
    for line in plan_lines(config, open_store(config), parse_now(now_text)):
        click.echo(line)
