"""Commands that render and send: check, preview, send, run-due, status, resend, demo."""

from __future__ import annotations

import logging
import os
import sys
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from scheduler import planner
from scheduler.anniversary import anniversary_number, coming_year
from scheduler.check import run_check
from scheduler.cli import config_option, get_config, parse_now, utcnow
from scheduler.config import Config
from scheduler.errors import UsageError
from scheduler.models import State
from scheduler.numbers import ordinal
from scheduler.progress import Progress, print_summary
from scheduler.render import SubscriberView
from scheduler.sender import RunCounts, Sender
from scheduler.store import Store
from scheduler.tokens import Signer
from scheduler.transports import make_transport

log = logging.getLogger("scheduler")


def _year(config: Config, campaign_id: str, year: int | None) -> int:
    campaign = config.get_campaign(campaign_id)
    if year is None:
        return coming_year(campaign.event_date, campaign.timezone, utcnow(), campaign.leap_day)
    anniversary_number(campaign.event_date, year)  # raises for a year before the first
    return year


def _signer(config: Config, *, ephemeral_ok: bool = False) -> Signer:
    env = config.sender.signing_key_env
    if ephemeral_ok and not os.environ.get(env):
        return Signer.ephemeral()
    return Signer.from_env(env)


def _sender(config: Config, signer: Signer | None = None, progress: Progress | None = None) -> Sender:
    return Sender(
        config, Store(config.database_url), make_transport(config), signer or _signer(config), on_progress=progress
    )


def _record_run(store: Store, command: str, started: datetime, results: list[RunCounts]) -> None:
    """Runs that did something go in the run table, for `status`; a run-due with
    nothing due every minute from cron leaves no row."""
    if results:
        run_id = uuid.uuid4().hex[:12]
        store.start_run(run_id, command, started)
        store.finish_run(run_id, "; ".join(r.describe() for r in results), utcnow())


def _print_counts(results: list[RunCounts]) -> None:
    """A table of ledger states on a terminal; one plain line per stage otherwise, for
    scripts and cron mail."""
    if not results:
        click.echo("nothing due")
        return
    if sys.stdout.isatty():
        print_summary(results)
        return
    for r in results:
        click.echo(r.describe() + (f" ({r.stopped})" if r.stopped else ""))


@click.command()
@click.option("--year", type=int, default=None, help="First year to check (default: this year).")
@config_option
def check(year: int | None, config_path: Path) -> None:
    """Render every campaign x stage x language for this year and the next 10, with
    sample subscribers in several zones, and report every problem. Exit 1 if any.

    \b
    Example:
        anniversary check
    """
    config = get_config(config_path)
    problems = run_check(config, year or utcnow().year)
    for p in problems:
        click.echo(str(p))
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    stages = sum(len(c.stage) * len(c.languages) for c in config.campaign)
    click.echo(f"ok: {stages} stage/language template sets render cleanly for 11 years")


@click.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.argument("stage_id", metavar="STAGE")
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@click.option("--language", default=None, help="Message language (default: the campaign's first).")
@click.option("--email", default=None, help="Preview as this subscriber (their name, language, zone).")
@click.option("--timezone", "zone", default=None, help="Subscriber zone (default: the event's).")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the HTML part to this file.",
)
@config_option
def preview(
    campaign_id: str,
    stage_id: str,
    year: int | None,
    language: str | None,
    email: str | None,
    zone: str | None,
    html_file: Path | None,
    config_path: Path,
) -> None:
    """Print exactly the subject and text part a subscriber would get.

    \b
    Example:
        anniversary preview black-january day-of --year 2027 --language az --timezone Europe/Berlin
        anniversary preview black-january reminder --email ana@example.com --html /tmp/r.html
    """
    config = get_config(config_path)
    campaign = config.get_campaign(campaign_id)
    stage = campaign.get_stage(stage_id)
    y = _year(config, campaign_id, year)
    sender = Sender(config, Store(config.database_url), make_transport(config), _signer(config, ephemeral_ok=True))
    sid, name = 0, ""
    lang, tz = language or campaign.languages[0], zone or campaign.timezone
    if email:
        row = sender.store.get_subscriber(email)
        if row is None:
            raise UsageError(f"no subscriber {email!r}")
        sid, name = row["id"], row["name"]
        lang, tz = language or row["language"], zone or row["timezone"]
    from scheduler.config import check_zone

    try:
        check_zone(tz)
    except ValueError as exc:
        raise UsageError(f"--timezone {exc}") from None
    if lang not in campaign.languages:
        raise UsageError(f"--language {lang!r} is not one of {', '.join(campaign.languages)}")
    rendered, _ = sender.renderer.render_for(campaign, stage, y, SubscriberView(name, lang, tz), sid)
    if rendered.language != lang:
        click.echo(f"Warning: no complete {lang!r} templates for {stage.id}; showing {rendered.language!r}", err=True)
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text, nl=not rendered.text.endswith("\n"))
    if html_file:
        html_file.write_text(rendered.html, encoding="utf-8")
        click.echo(f"(HTML part written to {html_file})", err=True)


@click.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.argument("stage_id", metavar="STAGE")
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@click.option("--dry-run", is_flag=True, help="Render and count, send nothing, write nothing.")
@config_option
def send(campaign_id: str, stage_id: str, year: int | None, dry_run: bool, config_path: Path) -> None:
    """Send a stage now to every active subscriber not yet sent it for that year.

    \b
    Example:
        anniversary send black-january reminder --year 2027 --dry-run
    """
    config = get_config(config_path)
    campaign = config.get_campaign(campaign_id)
    stage = campaign.get_stage(stage_id)
    y = _year(config, campaign_id, year)
    now = utcnow()
    if dry_run:
        sender = Sender(config, Store(config.database_url), make_transport(config), _signer(config, ephemeral_ok=True))
        sender.preflight(campaign, stage, y)
        n = 0
        langs: dict[str, int] = {}
        for claimed in sender.store.iter_unsent(campaign.id, y, stage.id):
            out = sender.renderer.outgoing(campaign, stage, y, claimed, now)
            langs[out.rendered.language] = langs.get(out.rendered.language, 0) + 1
            n += 1
        detail = ", ".join(f"{k} {v}" for k, v in sorted(langs.items()))
        click.echo(
            f"dry run: {campaign.id} {y} {stage.id} would go to {n} subscriber(s)" + (f" ({detail})" if n else "")
        )
        return
    with Progress() as progress:
        sender = _sender(config, progress=progress)
        with sender.transport:
            result = sender.send_stage(campaign.id, stage.id, y, now)
    _record_run(sender.store, "send", now, [result] if result.total() else [])
    _print_counts([result])


@click.command("run-due")
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO-8601 moment (with offset).")
@config_option
def run_due(now_text: str | None, config_path: Path) -> None:
    """Send what is due now in each subscriber's zone; record what is past the cutoff as
    skipped. Idempotent: safe to call every minute from cron.

    \b
    Example:
        anniversary run-due
        anniversary run-due --now 2027-01-20T04:00:00Z
    """
    config = get_config(config_path)
    now = parse_now(now_text)
    with Progress() as progress:
        sender = _sender(config, progress=progress)
        with sender.transport:
            results = sender.run_due(now)
    _record_run(sender.store, "run-due", now, results)
    _print_counts(results)


@click.command()
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@config_option
def status(year: int | None, config_path: Path) -> None:
    """Per campaign and stage: the next send time (UTC and the event's zone) and the
    count in each ledger state.

    \b
    Example:
        anniversary status --year 2027
    """
    config = get_config(config_path)
    store = Store(config.database_url)
    now = utcnow()
    zones = store.active_zones()
    for campaign in config.campaign:
        y = _year(config, campaign.id, year)
        counts = store.ledger_counts(campaign.id, y)
        number = anniversary_number(campaign.event_date, y)
        click.echo(f"{campaign.id} {y}: the {ordinal(number, 'en')} anniversary")
        slots = planner.slots(campaign, [y], zones)
        for stage in campaign.stage:
            upcoming = [s for s in slots if s.stage == stage.id and s.due > now]
            if upcoming:
                nxt = upcoming[0].due
                local = nxt.astimezone(ZoneInfo(campaign.timezone))
                when = (
                    f"next {nxt:%Y-%m-%d %H:%M} UTC = {local:%Y-%m-%d %H:%M} {campaign.timezone} ({upcoming[0].zone})"
                )
            else:
                when = "no send ahead" if zones else "no active subscribers"
            states = counts.get(stage.id, {})
            unsent = store.count_unsent(campaign.id, y, stage.id)
            parts = [f"{s.value} {states.get(s.value, 0)}" for s in State] + [f"not yet {unsent}"]
            click.echo(f"  {stage.id}: {when}; " + ", ".join(parts))
            unknown = store.entries(campaign.id, y, stage.id, State.UNKNOWN, limit=20)
            for e in unknown:
                click.echo(f"    unknown: {e['email']} (claimed {e['updated_at']:%Y-%m-%d %H:%M} UTC)")
            if unknown:
                click.echo(
                    "    to resend these on purpose: "
                    f"anniversary resend {campaign.id} {stage.id} --year {y} --state unknown"
                )
    from scheduler.cli_daemon import plan_lines

    click.echo("plan (per stage and zone; the daemon wakes at each):")
    for line in plan_lines(config, store, now):
        click.echo(f"  {line}")


@click.command()
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.argument("stage_id", metavar="STAGE")
@click.option("--year", type=int, required=True, help="Campaign year.")
@click.option(
    "--state",
    type=click.Choice([State.UNKNOWN.value, State.FAILED.value]),
    required=True,
    help="Which entries to send again.",
)
@config_option
def resend(campaign_id: str, stage_id: str, year: int, state: str, config_path: Path) -> None:
    """Deliberately send again the entries left unknown (in flight when a run died, or
    whose answer was lost) or failed. Unknown entries may already have been delivered.

    \b
    Example:
        anniversary resend black-january day-of --year 2027 --state unknown
    """
    config = get_config(config_path)
    campaign = config.get_campaign(campaign_id)
    campaign.get_stage(stage_id)
    with Progress() as progress:
        sender = _sender(config, progress=progress)
        entries = sender.store.entries(campaign.id, year, stage_id, State(state))
        forgotten = sender.store.forget_entries([e["id"] for e in entries], State(state))
        click.echo(f"{forgotten} {state} entr{'y' if forgotten == 1 else 'ies'} released; sending")
        with sender.transport:
            result = sender.send_stage(campaign.id, stage_id, year, utcnow())
    _print_counts([result])


@click.command()
@click.option(
    "--subscribers",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV to import first (default: examples/subscribers.csv).",
)
@config_option
def demo(csv_file: Path | None, config_path: Path) -> None:
    """Import the sample subscribers and send every stage of every campaign for the
    coming year through the configured transport (the outbox by default).

    Without the signing key in the environment, unsubscribe links are signed with a
    throwaway key, and the demo says so.

    \b
    Example:
        anniversary demo && ls outbox/black-january/*/*
    """
    from scheduler.subscribers import read_csv

    config = get_config(config_path)
    store = Store(config.database_url)
    csv_file = csv_file or config.base_dir / "examples" / "subscribers.csv"
    languages = [lang for c in config.campaign for lang in c.languages]
    report = read_csv(csv_file, languages)
    for line in report.warnings + report.errors:
        click.echo(f"Warning: {line}", err=True)
    counts = store.upsert_subscribers(report.rows, "import", utcnow())
    click.echo(
        f"subscribers from {csv_file.name}: {counts['added']} added, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged"
    )
    if not os.environ.get(config.sender.signing_key_env):
        click.echo(f"note: {config.sender.signing_key_env} is not set; unsubscribe links use a throwaway key")
    sender = Sender(config, store, make_transport(config), _signer(config, ephemeral_ok=True))
    now = utcnow()
    results = []
    with sender.transport:
        for campaign in config.campaign:
            y = coming_year(campaign.event_date, campaign.timezone, now, campaign.leap_day)
            for stage in campaign.stage:
                results.append(sender.send_stage(campaign.id, stage.id, y, now))
    _print_counts(results)
    if config.transport.kind == "outbox":
        click.echo(f"messages are in {config.outbox_dir}")


COMMANDS = [check, preview, send, run_due, status, resend, demo]
