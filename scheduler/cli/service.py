"""Commands for running it every year: the daemon and the organizers' heads-up."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from scheduler.cli.common import config_option, delivery, get_config, utcnow
from scheduler.delivery import headsup
from scheduler.errors import UsageError
from scheduler.service.daemon import Daemon


@click.command()
@config_option
def daemon(config_path: Path | None) -> None:
    """Run in the foreground, sending each stage when it becomes due in each subscriber
    zone, catching up after downtime within each campaign's late cutoff. For systemd
    (Type=notify, see deploy/) or a terminal. SIGHUP reloads config and templates;
    SIGTERM/SIGINT finish the batch in flight and exit 0.

    \b
    Example:
        anniversary daemon --config /etc/anniversary/config.toml
    """
    root = logging.getLogger()
    if root.level > logging.INFO:
        # A daemon's log is its only voice: one line per event by default.
        root.setLevel(logging.INFO)
    config = get_config(config_path)
    # Config, signing key and (in run -> arm) every template are validated before the
    # schedule is armed: a problem is one `Error:` line, not a failure on the day.
    raise SystemExit(Daemon(config, clock=utcnow).run())


@click.command("heads-up")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@click.option("--print", "print_only", is_flag=True, help="Print the heads-up instead of sending it.")
@config_option
def heads_up(campaign_id: str, year: int | None, print_only: bool, config_path: Path | None) -> None:
    """Send the organizers' heads-up for a campaign year now (the daemon sends it by
    itself organizers.heads_up_days before the first send). Sent once per year.

    \b
    Example:
        anniversary heads-up black-january --print
    """
    config = get_config(config_path)
    campaign = config.get_campaign(campaign_id)
    now = utcnow()
    y = campaign.resolve_year(year, now)
    pipeline = delivery(config, sends=not print_only, ephemeral_key=print_only)
    if print_only:
        subject, text = headsup.preview(config, pipeline, campaign, y)
        click.echo(f"Subject: {subject}\n\n{text}", nl=False)
        return
    if not config.organizers.emails:
        raise UsageError("organizers.emails is empty in config.toml: nobody to send the heads-up to")
    if pipeline.store.heads_up(campaign.id, y) is not None:
        click.echo(f"heads-up for {campaign.id} {y} was already sent")
        return
    if not headsup.send_now(config, pipeline, campaign, y, now):
        raise UsageError(f"heads-up for {campaign.id} {y} not sent (see the log line above)")
    click.echo(f"heads-up for {campaign.id} {y} sent to {', '.join(config.organizers.emails)}")
