"""What a studio page shows for one selection (README: The studio): the message as the
send path renders it (:meth:`~scheduler.delivery.runs.Delivery.preview` and the same
:class:`~scheduler.content.compose.Composer`), its headers and calendar invitation as a
transport writes them, the computed facts, and ``check``'s problems.

Nothing here reads the clock: ``now`` comes from the edge that asked."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from scheduler.config import CampaignConfig, Config
from scheduler.content.check import Problem, check_campaign
from scheduler.content.links import signer_for
from scheduler.content.message import Rendered, make_message_id, to_email_message
from scheduler.content.templates import SubscriberView
from scheduler.core import numbers
from scheduler.core.dates import LAST_YEAR, anniversary_number, silence_moment
from scheduler.core.planning import stage_moment
from scheduler.core.values import normalize_email
from scheduler.delivery.runs import Delivery
from scheduler.errors import TemplateProblem, UsageError
from scheduler.store import Store

#: zones the picker suggests (any IANA name may be typed): the far ends of the day and
#: zones with summer time on either side of the equator
SAMPLE_ZONES = (
    "America/Los_Angeles",
    "America/New_York",
    "Europe/Berlin",
    "Europe/Istanbul",
    "Asia/Baku",
    "Australia/Sydney",
    "Pacific/Kiritimati",
)
SAMPLE_NAME = "Aysel Məmmədova"
#: the year strip: this many years from the current one
STRIP_YEARS = 10
#: the address a sample subscriber's headers show (RFC 2606: reserved for examples)
SAMPLE_ADDRESS = "subscriber@example.org"
_WHERE = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+))?$")


@dataclass(frozen=True)
class Selection:
    """What to show; every field is in the page's query string."""

    campaign: str
    stage: str
    language: str
    year: int
    name: str = SAMPLE_NAME
    zone: str = "Asia/Baku"
    email: str = ""

    def query(self, **change: object) -> dict[str, str]:
        chosen = dataclasses.replace(self, **change) if change else self  # type: ignore[arg-type]
        return {k: str(v) for k, v in dataclasses.asdict(chosen).items() if v != "" or k == "name"}


def select(config: Config, params: Mapping[str, str], now: datetime) -> Selection:
    """The selection a query string asks for, each field checked against the config;
    a missing field is the first campaign, stage and language, and the coming year.
    UsageError, naming the field, for a value that is not allowed."""
    campaign = config.get_campaign(params.get("campaign") or config.campaign[0].id)
    stage = campaign.get_stage(params.get("stage") or campaign.stage[0].id)
    language = campaign.choose_language(params.get("language") or None)
    text = (params.get("year") or "").strip()
    if text and not (text.isascii() and text.isdigit()):
        raise UsageError(f"year: must be a year such as 2027 (got {text!r})")
    year = campaign.resolve_year(int(text) if text else None, now)
    zone = campaign.choose_zone(params.get("zone") or None)  # the event's own by default
    email = (params.get("email") or "").strip()
    if email:
        try:
            email = normalize_email(email)
        except ValueError as exc:
            raise UsageError(f"email: not an email address: {email!r} ({str(exc).split(': ', 1)[-1]})") from None
    name = params.get("name", SAMPLE_NAME)
    return Selection(campaign.id, stage.id, language, year, " ".join(name.split())[:200], zone, email)


@dataclass(frozen=True)
class Place:
    """A problem's file and line, for a link to the source."""

    file: str
    line: int | None


@dataclass(frozen=True)
class Shown:
    """A problem as the page lists it."""

    text: str
    place: Place
    warning: bool


def shown(problem: Problem) -> Shown:
    m = _WHERE.match(problem.where)
    assert m is not None  # the pattern matches any text
    line = int(m["line"]) if m["line"] else None
    return Shown(f"{problem.message}", Place(m["file"], line), problem.warning)


@dataclass(frozen=True)
class Facts:
    number: int
    ordinal: str
    is_round: bool
    silence_local: datetime
    silence_utc: datetime
    send_local: datetime
    #: the language the message is written in, after any fallback
    language: str


@dataclass(frozen=True)
class Message:
    rendered: Rendered
    #: header name and value, as the outbox and SMTP transports write them
    headers: list[tuple[str, str]]
    #: the invitation attached (RFC 5545), or None when the stage carries none
    calendar: str | None


@dataclass
class View:
    selection: Selection
    facts: Facts | None = None
    message: Message | None = None
    #: why the message does not render now: one line, naming file:line
    error: str | None = None
    error_place: Place | None = None
    problems: list[Shown] = field(default_factory=list)


def delivery_for(config: Config, store: bool) -> Delivery:
    """The pipeline the ``preview`` and ``send-test`` commands use: a throwaway key when
    none is set (links in a preview are never mailed to a subscriber)."""
    return Delivery(config, Store(config.database_url) if store else None, signer_for(config, ephemeral_ok=True))


def facts(campaign: CampaignConfig, sel: Selection, language: str) -> Facts:
    stage = campaign.get_stage(sel.stage)
    zone = ZoneInfo(sel.zone)
    number = anniversary_number(campaign.event_date, sel.year)
    silence = silence_moment(campaign.event_date, sel.year, campaign.silence_time, campaign.timezone, campaign.leap_day)
    return Facts(
        number=number,
        ordinal=numbers.ordinal(number, language),
        is_round=number % 5 == 0,
        silence_local=silence.in_zone(zone),
        silence_utc=silence.utc,
        # CampaignConfig is a CampaignTiming; mypy reads quiet_for's argument too narrowly.
        send_local=stage_moment(campaign, stage, sel.year, sel.zone).astimezone(zone),  # type: ignore[arg-type]
        language=language,
    )


def render(config: Config, sel: Selection, now: datetime) -> View:
    """The message for ``sel``, exactly as a send would render it, with its facts; a
    template that does not render is the view's ``error``, not an exception."""
    view = View(sel)
    campaign = config.get_campaign(sel.campaign)
    stage = campaign.get_stage(sel.stage)
    pipeline = delivery_for(config, store=bool(sel.email))
    try:
        if sel.email:
            rendered = pipeline.preview(sel.campaign, sel.stage, sel.year, email=sel.email)
            row = pipeline.store.get_subscriber(sel.email)
            assert row is not None  # preview has found it
            sid, name, to, zone = row["id"], row["name"], sel.email, row["timezone"]
            view.selection = sel = dataclasses.replace(sel, zone=zone, name=name, language=row["language"])
        else:
            view_of = SubscriberView(sel.name, sel.language, sel.zone)
            rendered = pipeline.composer.render(campaign, stage, sel.year, view_of, 0)
            sid, name, to = 0, sel.name, SAMPLE_ADDRESS
    except TemplateProblem as exc:
        view.error = str(exc)
        where, _, what = str(exc).partition(": ")
        view.error_place = shown(Problem(where, what)).place if what else None
        view.facts = facts(campaign, sel, sel.language)
        return view
    view.facts = facts(campaign, sel, rendered.language)
    composer = pipeline.composer
    envelope = composer.envelope(campaign, stage, sel.year, rendered, now)
    domain = config.sender.from_email.rsplit("@", 1)[-1]
    out = dataclasses.replace(
        envelope,
        to_email=to,
        to_name=name,
        unsubscribe_url=composer.links.unsubscribe(sid),
        message_id=make_message_id(campaign.id, sel.year, stage.id, "preview", domain),
    )
    msg = to_email_message(out)
    headers = [(k, str(v)) for k, v in msg.items() if k.lower() not in ("content-type", "mime-version")]
    view.message = Message(rendered, headers, envelope.calendar.text if envelope.calendar else None)
    return view


def selection_problems(config: Config, sel: Selection) -> list[Shown]:
    """``check`` for the selected stage and language in the selected year."""
    campaign = config.get_campaign(sel.campaign)
    found = check_campaign(config, campaign, sel.year, last_year=sel.year, only=(sel.stage, sel.language))
    return [shown(p) for p in found]


@dataclass(frozen=True)
class Year:
    year: int
    number: int
    ordinal: str
    is_round: bool
    passes: bool


@dataclass(frozen=True)
class CampaignCheck:
    """``check`` for the whole campaign (this year and the next 10), and the strip."""

    errors: int
    warnings: int
    strip: list[Year]


def campaign_check(config: Config, campaign_id: str, language: str, now: datetime) -> CampaignCheck:
    campaign = config.get_campaign(campaign_id)
    first = campaign.resolve_year(None, now)
    failed: set[int] = set()
    every = list(check_campaign(config, campaign, first, failed=failed))
    strip = []
    for year in range(first, min(first + STRIP_YEARS, LAST_YEAR + 1)):
        number = anniversary_number(campaign.event_date, year)
        strip.append(Year(year, number, numbers.ordinal(number, language), number % 5 == 0, year not in failed))
    warnings = sum(p.warning for p in every)
    return CampaignCheck(len(every) - warnings, warnings, strip)


def watched(config: Config) -> list[Path]:
    """config.toml and every template folder: what a save there changes."""
    roots = [config.path, config.shared_templates, *(config.campaign_templates(c) for c in config.campaign)]
    return sorted({Path(os.path.abspath(p)) for p in roots if p.exists()})


def fingerprint(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """Every watched file's name, size and modification time: a cache key that changes
    with any save."""
    out: list[tuple[str, int, int]] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def readable_source(config: Config, file: str) -> Path:
    """``file`` when it is config.toml or a file under a template folder: the only
    files the studio shows. UsageError otherwise."""
    path = Path(os.path.realpath(file))
    for root in watched(config):
        real = Path(os.path.realpath(root))
        if path == real or (real.is_dir() and path.is_relative_to(real) and path.is_file()):
            return path
    raise UsageError(f"{file}: not config.toml or a template; the studio shows only those")
