"""Commands that render and send: check, preview, send, send-test, run-due, resend, demo."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import click

from scheduler.cli.common import (
    PRETEND_AFTER,
    config_option,
    delivery,
    describe_gap,
    finish,
    get_config,
    parse_now,
    print_counts,
    reset_demo,
    sending,
    utcnow,
)
from scheduler.content.check import check_years, run_check
from scheduler.core.outcomes import State
from scheduler.core.values import normalize_email
from scheduler.errors import TransportError, UsageError
from scheduler.lifecycle.action import subscriber_regions
from scheduler.subscribers import import_csv


@click.command()
@click.option("--year", type=int, default=None, help="First year to check (default: this year).")
@config_option
def check(year: int | None, config_path: Path | None) -> None:
    """Render every campaign x stage x language for this year and the next 10, with
    sample subscribers in several zones, and report every problem. Exit 1 if any;
    warnings are printed and do not change the exit code.

    \b
    Example:
        anniversary check
    """
    config = get_config(config_path)
    first = year or utcnow().year
    found = run_check(config, first, warnings=True, regions=subscriber_regions(config))
    problems = [p for p in found if not p.warning]
    for p in found:
        click.echo(str(p))
    if len(found) > len(problems):
        click.echo(f"{len(found) - len(problems)} warning(s)", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    stages = sum(len(c.stage) * len(c.languages) for c in config.campaign)
    years = check_years(config.campaign[0].event_date, first)
    click.echo(f"ok: {stages} stage/language template sets render cleanly for {len(years)} years")


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
    config_path: Path | None,
) -> None:
    """Print exactly the subject and text part a subscriber would get.

    \b
    Example:
        anniversary preview black-january day-of --year 2027 --language az --timezone Europe/Berlin
        anniversary preview black-january reminder --email ana@example.com --html /tmp/r.html
    """
    config = get_config(config_path)
    y = config.get_campaign(campaign_id).resolve_year(year, utcnow())
    pipeline = delivery(config, sends=False, ephemeral_key=True, store=email is not None)
    rendered = pipeline.preview(campaign_id, stage_id, y, email=email, language=language, zone=zone)
    wanted = language or (None if email else config.get_campaign(campaign_id).languages[0])
    if wanted and rendered.language != wanted:
        click.echo(f"Warning: no complete {wanted!r} templates for {stage_id}; showing {rendered.language!r}", err=True)
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
@click.option("--yes", is_flag=True, help="Send even if the stage is not due for more than a day (no question asked).")
@config_option
def send(campaign_id: str, stage_id: str, year: int | None, dry_run: bool, yes: bool, config_path: Path | None) -> None:
    """Send a stage now to every active subscriber not yet sent it for that year.
    Exit 1 if any message failed, 3 if the transport stopped the run.

    \b
    Example:
        anniversary send black-january reminder --year 2027 --dry-run
        anniversary send black-january day-of --yes
    """
    config = get_config(config_path)
    now = utcnow()
    y = config.get_campaign(campaign_id).resolve_year(year, now)
    if dry_run:
        dry = delivery(config, sends=False, ephemeral_key=True).dry_run(campaign_id, stage_id, y)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(dry.languages.items()))
        click.echo(
            f"dry run: {dry.campaign} {y} {dry.stage} would go to {dry.total} subscriber(s)"
            + (f" ({detail})" if dry.total else "")
        )
        return
    with sending() as progress:
        pipeline = delivery(config, progress=progress)
        first = pipeline.first_due(campaign_id, stage_id, y)
        if first - now > timedelta(days=1) and not yes:
            early = f"{campaign_id} {y} {stage_id} is not due until {first:%Y-%m-%d %H:%M} UTC"
            if not sys.stdin.isatty():
                raise UsageError(f"{early}; add --yes to send it now anyway")
            click.confirm(f"{early}. Send it now to every active subscriber?", abort=True, err=True)
        result = pipeline.send_stage(campaign_id, stage_id, y, now)
    pipeline.record_run("send", now, utcnow(), [result] if result.total() else [])
    finish([result])


@click.command("send-test")
@click.argument("campaign_id", metavar="CAMPAIGN")
@click.argument("stage_id", metavar="STAGE")
@click.option("--to", "to", required=True, help="Address to send the test to (any address).")
@click.option("--year", type=int, default=None, help="Campaign year (default: the coming one).")
@click.option("--language", default=None, help="Message language (default: the campaign's first).")
@click.option("--name", default="", help="Name to greet the recipient by (default: none).")
@click.option("--timezone", "zone", default=None, help="Recipient zone for local times (default: the event's).")
@config_option
def send_test(
    campaign_id: str,
    stage_id: str,
    to: str,
    year: int | None,
    language: str | None,
    name: str,
    zone: str | None,
    config_path: Path | None,
) -> None:
    """Send one stage's message to ADDRESS now, as a test: "[TEST]" before the subject
    and an X-Anniversary-Test header. Nothing is written to the ledger.

    \b
    Example:
        anniversary send-test black-january day-of --to me@example.org --language az
    """
    config = get_config(config_path)
    now = utcnow()
    y = config.get_campaign(campaign_id).resolve_year(year, now)
    try:
        address = normalize_email(to)
    except ValueError as exc:
        raise UsageError(f"--to: not an email address: {to!r} ({str(exc).split(': ', 1)[-1]})") from None
    pipeline = delivery(config, ephemeral_key=True, store=False)
    sent = pipeline.send_test(campaign_id, stage_id, y, now, to=address, name=name, language=language, zone=zone)
    if sent.result.state is not State.SENT:
        raise TransportError(f"test message to {address} not sent ({sent.result.state.value}): {sent.result.reason}")
    click.echo(
        f"test message sent to {address} via {sent.transport}: {sent.subject!r} "
        f"({sent.language}, message id {sent.result.message_id})"
    )


@click.command("run-due")
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO-8601 moment (with offset).")
@click.option(
    "--dry-run", is_flag=True, help="Print what would be sent and skipped, per stage and zone; write nothing."
)
@click.option("--force-clock", is_flag=True, help="Let --now send through SMTP or SendGrid, to real inboxes.")
@config_option
def run_due(now_text: str | None, dry_run: bool, force_clock: bool, config_path: Path | None) -> None:
    """Send what is due now in each subscriber's zone; record what is past the cutoff as
    skipped. Idempotent: safe to call every minute from cron. Exit 1 if any message
    failed, 3 if the transport stopped the run.

    A pretend clock (--now more than a minute from the real one) sends only through the
    outbox, unless --force-clock is given.

    \b
    Example:
        anniversary run-due
        anniversary run-due --now 2027-01-20T04:00:00Z --dry-run
    """
    config = get_config(config_path)
    started = utcnow()
    now = parse_now(now_text) if now_text else started
    pretend = abs(now - started) > PRETEND_AFTER
    if dry_run:
        lines = delivery(config, sends=False, ephemeral_key=True).due_now(now)
        for line in lines:
            click.echo(line.describe())
        if not lines:
            click.echo("nothing due")
        return
    if pretend and config.transport.kind != "outbox" and not force_clock:
        raise UsageError(
            f"--now {now:%Y-%m-%d %H:%M} UTC is {describe_gap(now - started)} from the real clock, and "
            f"transport.kind is {config.transport.kind!r}: a pretend clock sends only through the outbox; "
            "add --force-clock to send to real inboxes"
        )
    with sending() as progress:
        pipeline = delivery(config, progress=progress)
        results = pipeline.run_due(now)
    pipeline.record_run("run-due", started, utcnow(), results, pretend=now if pretend else None)
    finish(results)


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
def resend(campaign_id: str, stage_id: str, year: int, state: str, config_path: Path | None) -> None:
    """Deliberately send again the entries left unknown (in flight when a run died, or
    whose answer was lost) or failed. Unknown entries may already have been delivered.

    \b
    Example:
        anniversary resend black-january day-of --year 2027 --state unknown
    """
    config = get_config(config_path)
    with sending() as progress:
        released, result = delivery(config, progress=progress).resend(
            campaign_id, stage_id, year, State(state), utcnow()
        )
    click.echo(f"{released} {state} entr{'y' if released == 1 else 'ies'} released and sent again")
    finish([result])


@click.command()
@click.option(
    "--subscribers",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV to import first (default: examples/subscribers.csv).",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="The demo's own folder (relative to config.toml's): its SQLite file and outbox.",
)
@config_option
def demo(csv_file: Path | None, folder: Path, config_path: Path | None) -> None:
    """Import the sample subscribers and write every stage of every campaign for the
    coming year as .eml files, in a folder of its own: its own SQLite file and the
    outbox transport, whatever config.toml says. It never mails anyone and never
    touches the configured database.

    Without the signing key in the environment, unsubscribe links are signed with a
    throwaway key, and the demo says so.

    \b
    Example:
        anniversary demo && ls demo/outbox/black-january/*/*
    """
    config = get_config(config_path)
    demo_config = config.for_demo(folder)
    reset_demo(demo_config)
    now = utcnow()
    csv_file = csv_file or config.base_dir / "examples" / "subscribers.csv"
    pipeline = delivery(demo_config, ephemeral_key=True)
    imported = import_csv(demo_config, pipeline.store, csv_file, now)
    for line in imported.report.warnings + imported.report.errors:
        click.echo(f"Warning: {line}", err=True)
    counts = imported.counts
    click.echo(
        f"subscribers from {csv_file.name}: {counts['added']} added, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged"
    )
    if not os.environ.get(config.sender.signing_key_env):
        click.echo(f"note: {config.sender.signing_key_env} is not set; unsubscribe links use a throwaway key")
    print_counts(pipeline.send_coming_year(now))
    click.echo(f"demo database: {demo_config.database_url.removeprefix('sqlite:///')}")
    click.echo(f"messages are in {demo_config.outbox_dir}")
