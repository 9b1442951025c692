"""``anniversary send-test``: one real message through the configured transport to any
address, marked as a test, never written to the ledger (issue 3, section 4)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from scheduler.anniversary import anniversary_number, coming_year
from scheduler.cli import config_option, get_config, utcnow
from scheduler.config import check_zone
from scheduler.errors import TransportError, UsageError
from scheduler.models import State
from scheduler.renderer import Renderer
from scheduler.store import Claimed
from scheduler.tokens import Signer
from scheduler.transports import make_transport


def _address(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UsageError(f"--to: not an email address: {value!r} ({exc})") from None


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
    config_path: Path,
) -> None:
    """Send one stage's message to ADDRESS now, as a test: "[TEST]" before the subject
    and an X-Anniversary-Test header. Nothing is written to the ledger.

    \b
    Example:
        anniversary send-test black-january day-of --to me@example.org --language az
    """
    config = get_config(config_path)
    campaign = config.get_campaign(campaign_id)
    stage = campaign.get_stage(stage_id)
    now = utcnow()
    if year is None:
        year = coming_year(campaign.event_date, campaign.timezone, now, campaign.leap_day)
    anniversary_number(campaign.event_date, year)  # raises for a year before the first
    address = _address(to)
    lang = language or campaign.languages[0]
    if lang not in campaign.languages:
        raise UsageError(f"--language {lang!r} is not one of {', '.join(campaign.languages)}")
    tz = zone or campaign.timezone
    try:
        check_zone(tz)
    except ValueError as exc:
        raise UsageError(f"--timezone {exc}") from None
    env = config.sender.signing_key_env
    signer = Signer.from_env(env) if os.environ.get(env) else Signer.ephemeral()
    renderer = Renderer(config, signer)
    claimed = Claimed(entry_id=0, subscriber_id=0, email=address, name=name, language=lang, timezone=tz)
    out = renderer.outgoing(campaign, stage, year, claimed, now, is_test=True)
    transport = make_transport(config)
    with transport:
        (result,) = transport.send_batch([out])
    if result.state is not State.SENT:
        raise TransportError(f"test message to {address} not sent ({result.state.value}): {result.reason}")
    click.echo(
        f"test message sent to {address} via {transport.name}: {out.subject!r} "
        f"({out.rendered.language}, message id {result.message_id})"
    )


COMMANDS = [send_test]
