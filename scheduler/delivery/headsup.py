"""The organizers' heads-up (README: Operations).

``organizers.heads_up_days`` before a campaign year's first send, the addresses in
``organizers.emails`` get one message saying what goes out when and to how many, the
result of ``anniversary check`` and a rendered preview of every stage in every
language: a broken template must be found in December, not on the day.

It is not a ledger message: it goes out as one batch to the organizers through
:meth:`Delivery.deliver`, as every message does, and is recorded in its own
``heads_up`` table, claimed before sending (INSERT ... ON CONFLICT DO NOTHING, as the
ledger does) so two daemons send it once. Takes ``now``; reads no clock.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.content.check import YEARS_AHEAD, run_check
from scheduler.content.groups import Batch, Recipient
from scheduler.content.message import Outgoing, Rendered, make_message_id
from scheduler.content.templates import SubscriberView
from scheduler.core import planning as planner
from scheduler.core.dates import anniversary_number
from scheduler.core.numbers import ordinal
from scheduler.core.outcomes import State
from scheduler.core.timing import format_duration
from scheduler.delivery.headsup_due import HeadsUpDue, heads_up_at
from scheduler.delivery.runs import Delivery
from scheduler.errors import SchedulerError, TemplateProblem, TransportError
from scheduler.store import Store

log = logging.getLogger(__name__)

STAGE = "heads-up"


def upcoming(config: Config, zones: list[str], now: datetime) -> list[HeadsUpDue]:
    """Every heads-up whose time has not come yet or has come but whose campaign year has
    not started sending (a heads-up after the first send is no heads-up)."""
    out = []
    for campaign in config.campaign:
        for year in planner.candidate_years(campaign, now):
            due = heads_up_at(config, campaign, year, zones)
            if now < due.first.due:
                out.append(due)
    return sorted(out, key=lambda d: d.at)


def pending(config: Config, store: Store, zones: list[str], now: datetime) -> list[HeadsUpDue]:
    """Heads-ups due at ``now`` and not yet claimed by anyone."""
    if not config.organizers.emails:
        return []
    return [d for d in upcoming(config, zones, now) if d.at <= now and store.heads_up(d.campaign.id, d.year) is None]


def _languages(store: Store, campaign: CampaignConfig) -> dict[str, int]:
    """Active subscribers per language actually sent: a language the campaign has no
    templates for gets the campaign's first language (TemplateSet.language_for)."""
    out: dict[str, int] = {}
    for lang, n in store.active_languages().items():
        sent_as = lang if lang in campaign.languages else campaign.languages[0]
        out[sent_as] = out.get(sent_as, 0) + n
    return out


def _when(stage: StageConfig) -> str:
    if stage.send_before_silence is not None:
        return f"{format_duration(stage.send_before_silence)} before the minute of silence, out of quiet hours"
    return f"at {stage.send_time:%H:%M} local time"


def compose(config: Config, delivery: Delivery, due: HeadsUpDue, zones: list[str]) -> tuple[str, str]:
    """The subject and the text of the heads-up."""
    campaign, year = due.campaign, due.year
    number = ordinal(anniversary_number(campaign.event_date, year), "en")
    first_stage = campaign.get_stage(due.first.stage)
    local_first = due.first.due.astimezone(ZoneInfo(due.first.zone))
    langs = _languages(delivery.store, campaign)
    total = sum(langs.values())
    n = format_decimal(total, locale="en")
    headline = (
        f"The {number} anniversary messages go out on {format_date(local_first.date(), 'd MMMM', locale='en')} "
        f"{_when(first_stage)} to {n} subscriber{'s' if total != 1 else ''} "
        f"in {len(langs)} language{'s' if len(langs) != 1 else ''}."
    )
    lines = [
        headline,
        "",
        f"{campaign.title_in('en')} ({campaign.id}), {year}. Each stage, in each subscriber's own time:",
    ]
    all_slots = planner.slots(campaign, [year], zones or [campaign.timezone])
    for stage in campaign.stage:
        mine = [s for s in all_slots if s.stage == stage.id]
        day = mine[0].due.astimezone(ZoneInfo(mine[0].zone)).date()
        lines.append(
            f"  {stage.id}: {format_date(day, 'd MMMM y', locale='en')} {_when(stage)}; "
            f"first in {mine[0].zone} at {mine[0].due:%Y-%m-%d %H:%M} UTC, "
            f"last in {mine[-1].zone} at {mine[-1].due:%Y-%m-%d %H:%M} UTC; "
            f"not sent later than {campaign.late_cutoff_hours} h after"
        )
    detail = ", ".join(f"{lang} {format_decimal(k, locale='en')}" for lang, k in sorted(langs.items()))
    lines += ["", f"Subscribers: {n} active ({detail or 'none'}) in {len(zones)} time zone(s)."]
    problems = run_check(config, year)
    lines += ["", f"anniversary check ({year} and the next {YEARS_AHEAD} years):"]
    lines += [f"  {p}" for p in problems] or ["  ok: every template renders cleanly"]
    lines.append(f"  {len(problems)} problem(s)" if problems else "")
    for stage in campaign.stage:
        for lang in campaign.languages:
            lines += ["", f"----- Preview: {stage.id}, {lang} -----"]
            try:
                rendered = delivery.composer.render(
                    campaign, stage, year, SubscriberView("Preview", lang, campaign.timezone), 0
                )
            except TemplateProblem as exc:
                lines.append(f"DOES NOT RENDER: {exc}")
                continue
            if rendered.language != lang:
                lines.append(f"(no complete {lang} templates: subscribers get {rendered.language})")
            lines += [f"Subject: {rendered.subject}", "", rendered.text.rstrip("\n")]
    subject = f"Heads-up: the {number} anniversary messages of {campaign.title_in('en')} go out on " + format_date(
        local_first.date(), "d MMMM", locale="en"
    )
    return subject, "\n".join(lines) + "\n"


def send(config: Config, delivery: Delivery, due: HeadsUpDue, zones: list[str], now: datetime) -> bool:
    """Claim, send to every organizer, record. True when sent by this call."""
    campaign, year = due.campaign, due.year
    store = delivery.store
    recipients = list(config.organizers.emails)
    if not store.claim_heads_up(campaign.id, year, recipients, now):
        return False
    try:
        subject, text = compose(config, delivery, due, zones)
        rendered = Rendered(subject, text, f"<pre>{html.escape(text)}</pre>\n", "en")
        domain = config.sender.from_email.rsplit("@", 1)[1]
        envelope = Outgoing(
            entry_id=None,
            to_email="",
            to_name="",
            from_email=config.sender.from_email,
            from_name=config.sender.from_name,
            rendered=rendered,
            # The organizers are not subscribers; the header points at the public
            # page because every transport expects one (RFC 2369 allows any URI).
            unsubscribe_url=config.sender.public_url,
            unsubscribe_mailto=config.sender.unsubscribe_mailto or config.sender.from_email,
            message_id="",
            date=now,
            campaign=campaign.id,
            year=year,
            stage=STAGE,
            reply_to=config.sender.reply_to,
        )
        people = [
            Recipient(
                None,
                addr,
                "",
                config.sender.public_url,
                make_message_id(campaign.id, year, STAGE, "organizers", domain),
            )
            for addr in recipients
        ]
        message_ids = [str(r.message_id) for r in people]
        batch = Batch(envelope, people, personal=False)
        with delivery.session() as transport:
            results = delivery.deliver(transport, batch)
        failed = [r.reason for r in results if r.state != State.SENT]
        if failed:
            raise TransportError("; ".join(str(f) for f in failed))
    except (SchedulerError, OSError) as exc:
        store.release_heads_up(campaign.id, year)
        log.error("heads-up for %s %s not sent, will retry: %s", campaign.id, year, " ".join(str(exc).split()))
        return False
    store.record_heads_up(campaign.id, year, ", ".join(message_ids), now)
    log.info("heads-up for %s %s sent to %d organizer(s)", campaign.id, year, len(recipients))
    return True


def preview(config: Config, delivery: Delivery, campaign: CampaignConfig, year: int) -> tuple[str, str]:
    """The heads-up of a campaign year as it would be sent now: subject and text."""
    zones = delivery.store.active_zones()
    return compose(config, delivery, heads_up_at(config, campaign, year, zones), zones)


def send_now(config: Config, delivery: Delivery, campaign: CampaignConfig, year: int, now: datetime) -> bool:
    """Send a campaign year's heads-up now, whenever it is due (``anniversary heads-up``)."""
    zones = delivery.store.active_zones()
    return send(config, delivery, heads_up_at(config, campaign, year, zones), zones, now)
