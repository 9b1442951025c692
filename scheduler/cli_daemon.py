"""Commands of issue 4: ``daemon``, ``plan`` and ``heads-up``."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from scheduler import headsup, planner
from scheduler.anniversary import coming_year
from scheduler.cli import config_option, get_config, parse_now, utcnow
from scheduler.config import Config
from scheduler.daemon import Daemon
from scheduler.errors import UsageError
from scheduler.sender import Sender
from scheduler.store import Store
from scheduler.tokens import Signer
from scheduler.transports import make_transport


def plan_lines(config: Config, store: Store, now: datetime) -> list[str]:
    """What ``anniversary plan`` prints (issue 4, section 5): per campaign, stage and
    zone the next send in UTC, in the event's zone and on the zone's own clock; the
    heads-up; the last run."""
    zones = store.active_zones()
    lines: list[str] = []
    for campaign in config.campaign:
        event_zone = ZoneInfo(campaign.timezone)
        year = coming_year(campaign.event_date, campaign.timezone, now, campaign.leap_day)
        lines.append(
            f"{campaign.id} {year} (event zone {campaign.timezone}, late cutoff {campaign.late_cutoff_hours} h)"
        )
        if not zones:
            lines.append("  no active subscribers: nothing to plan")
        for stage in campaign.stage:
            lines.append(f"  {stage.id}:")
            for slot in planner.slots(campaign, [year], zones):
                if slot.stage != stage.id:
                    continue
                state = {"upcoming": "next", "due": "DUE NOW", "late": "past"}[slot.state(now)]
                lines.append(
                    f"    {slot.zone:<24} {state:<7} {slot.due:%Y-%m-%d %H:%M} UTC"
                    f" = {slot.due.astimezone(event_zone):%Y-%m-%d %H:%M} {campaign.timezone}"
                    f" = {slot.due.astimezone(ZoneInfo(slot.zone)):%H:%M %Z} local;"
                    f" cutoff {slot.cutoff:%Y-%m-%d %H:%M} UTC"
                )
        counts = store.ledger_counts(campaign.id, year)
        for stage_id, states in sorted(counts.items()):
            lines.append(f"  ledger {stage_id}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
        if config.organizers.emails:
            due = headsup.heads_up_at(config, campaign, year, zones)
            row = store.heads_up(campaign.id, year)
            done = f"{row['state']} {row['updated_at']:%Y-%m-%d %H:%M} UTC" if row else "not sent yet"
            lines.append(
                f"  heads-up: due {due.at:%Y-%m-%d %H:%M} UTC to {len(config.organizers.emails)} organizer(s); {done}"
            )
        else:
            lines.append("  heads-up: off (organizers.emails is empty)")
    last = store.last_run()
    if last:
        lines.append(f"last run: {last['command']} at {last['started_at']:%Y-%m-%d %H:%M} UTC: {last['summary']}")
    return lines


@click.command()
@config_option
def daemon(config_path: Path) -> None:
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
        # A daemon's log is its only voice: one line per event by default (issue 4, 5).
        root.setLevel(logging.INFO)
    config = get_config(config_path)
    # Config, signing key and (in run -> arm) every template are validated before the
    # schedule is armed: a problem is one `Error:` line, not a failure on the day.
    raise SystemExit(Daemon(config, clock=utcnow).run())


@click.command()
@click.option("--now", "now_text", default=None, help="Show the plan as of this ISO-8601 moment (with offset).")
@config_option
def plan(now_text: str | None, config_path: Path) -> None:
    """Show the daemon's plan: each stage's next send per subscriber zone, in UTC, the
    event's zone and local time; the organizers' heads-up; the last run.

    \b
    Example:
        anniversary plan
    """
    config = get_config(config_path)
    for line in plan_lines(config, Store(config.database_url), parse_now(now_text)):
        click.echo(line)


@click.command("heads-up")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@click.option("--print", "print_only", is_flag=True, help="Print the heads-up instead of sending it.")
@config_option
def heads_up(campaign_id: str, year: int | None, print_only: bool, config_path: Path) -> None:
    """Send the organizers' heads-up for a campaign year now (the daemon sends it by
    itself organizers.heads_up_days before the first send). Sent once per year.

    \b
    Example:
        anniversary heads-up black-january --print
    """
    from scheduler.anniversary import anniversary_number

    config = get_config(config_path)
    campaign = config.get_campaign(campaign_id)
    now = utcnow()
    if year is None:
        year = coming_year(campaign.event_date, campaign.timezone, now, campaign.leap_day)
    anniversary_number(campaign.event_date, year)
    store = Store(config.database_url)
    zones = store.active_zones()
    due = headsup.heads_up_at(config, campaign, year, zones)
    env = config.sender.signing_key_env
    signer = Signer.from_env(env) if not print_only else Signer.ephemeral()
    sender = Sender(config, store, make_transport(config), signer)
    if print_only:
        subject, text = headsup.compose(config, store, sender, due, zones)
        click.echo(f"Subject: {subject}\n\n{text}", nl=False)
        return
    if not config.organizers.emails:
        raise UsageError("organizers.emails is empty in config.toml: nobody to send the heads-up to")
    if store.heads_up(campaign.id, year) is not None:
        click.echo(f"heads-up for {campaign.id} {year} was already sent")
        return
    if not headsup.send(config, store, sender, due, zones, now):
        raise UsageError(f"heads-up for {campaign.id} {year} not sent (see the log line above)")
    click.echo(f"heads-up for {campaign.id} {year} sent to {', '.join(config.organizers.emails)}")


COMMANDS = [daemon, plan, heads_up]
