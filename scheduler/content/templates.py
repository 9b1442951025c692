"""Rendering organizer-edited Jinja2 templates into a subject, a text and an HTML part.

The layout on disk is a contract (README: Templates)::

    {templates}/{language}/{stage}.subject.j2
    {templates}/{language}/{stage}.txt.j2
    {templates}/{language}/{stage}.html.j2

Shared layouts and partials resolve from the campaign's folder first, then from the
common ``templates/`` folder beside config.toml.

The environment is an immutable sandbox with StrictUndefined: a typo is an error in
``check``, never a blank in a sent email, and templates reach only the context built in
:func:`build_context`. HTML parts are autoescaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.content.filters import FILTERS
from scheduler.content.message import Rendered
from scheduler.core.dates import anniversary_number, event_date_in, silence_moment
from scheduler.core.planning import stage_moment
from scheduler.core.values import one_line
from scheduler.errors import TemplateProblem

PARTS = ("subject", "txt", "html")


@dataclass(frozen=True)
class SubscriberView:
    """What a template may know of a subscriber: never the email address or the id."""

    name: str
    language: str
    timezone: str


def template_name(language: str, stage_id: str, part: str) -> str:
    return f"{language}/{stage_id}.{part}.j2"


def _where(exc: BaseException, tb: TracebackType | None) -> str:
    """file:line of the innermost template frame in a rendering traceback."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or exc.name}:{exc.lineno}"
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found or "template"


class TemplateSet:
    """The templates of one campaign."""

    def __init__(self, config: Config, campaign: CampaignConfig) -> None:
        self.campaign = campaign
        self.root = config.campaign_templates(campaign)
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(self.root), str(config.shared_templates)]),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.env.filters.update(FILTERS)

    def path_of(self, language: str, stage_id: str, part: str) -> Path:
        return self.root / template_name(language, stage_id, part)

    def missing(self, language: str, stage_id: str) -> list[Path]:
        return [p for p in (self.path_of(language, stage_id, x) for x in PARTS) if not p.is_file()]

    def language_for(self, language: str, stage_id: str) -> str:
        """The subscriber's language when all three parts exist, else the campaign's first."""
        if language in self.campaign.languages and not self.missing(language, stage_id):
            return language
        return self.campaign.languages[0]

    def get(self, language: str, stage_id: str, part: str) -> jinja2.Template:
        name = template_name(language, stage_id, part)
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateProblem(f"{self.root / name}: template not found") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(f"{_where(exc, None)}: syntax error: {exc.message}") from None

    def render(self, stage_id: str, context: Mapping[str, Any]) -> Rendered:
        language = self.language_for(str(context["subscriber"].language), stage_id)
        # The title in the language the message is written in, after any fallback.
        event = dict(context["event"], title=self.campaign.title_in(language))
        ctx = dict(context, language=language, event=event)
        out: dict[str, str] = {}
        for part in PARTS:
            template = self.get(language, stage_id, part)
            try:
                out[part] = template.render(ctx)
            except TemplateProblem as exc:
                raise TemplateProblem(f"{_where(exc, exc.__traceback__)}: {exc}") from None
            except jinja2.TemplateError as exc:
                where = _where(exc, exc.__traceback__)
                raise TemplateProblem(f"{where}: {exc.message or exc}") from None
            except (TypeError, ValueError, AttributeError, LookupError) as exc:
                where = _where(exc, exc.__traceback__)
                raise TemplateProblem(f"{where}: {type(exc).__name__}: {exc}") from None
        # A subject is one header line: folding whitespace (and any CR/LF a name
        # smuggled in) collapses to single spaces.
        subject = one_line(out["subject"])
        return Rendered(subject=subject, text=out["txt"], html=out["html"], language=language)


def build_context(
    config: Config,
    campaign: CampaignConfig,
    stage: StageConfig,
    year: int,
    subscriber: SubscriberView,
    unsubscribe_url: str,
) -> dict[str, Any]:
    """Every variable a template gets; the README documents each one."""
    number = anniversary_number(campaign.event_date, year)
    zone = ZoneInfo(subscriber.timezone)
    silence = silence_moment(campaign.event_date, year, campaign.silence_time, campaign.timezone, campaign.leap_day)
    return {
        "anniversary": {"number": number, "year": year, "is_round": number % 5 == 0},
        "event": {
            "title": campaign.title_in(subscriber.language),
            "date": event_date_in(campaign.event_date, year, campaign.leap_day),
            "original_date": campaign.event_date,
            "timezone": campaign.timezone,
        },
        "silence": {
            "local": silence.in_zone(zone),
            "utc": silence.utc,
            "event_local": silence.in_zone(campaign.timezone),
        },
        "subscriber": subscriber,
        "stage": {
            "id": stage.id,
            "days_before": stage.days_before,
            # this message's own send moment, on the subscriber's clock
            "send_local": stage_moment(campaign, stage, year, subscriber.timezone).astimezone(zone),
        },
        "unsubscribe_url": unsubscribe_url,
        "sender": {
            "postal_address": config.sender.postal_address,
            "from_name": config.sender.from_name,
            "public_url": config.sender.public_url,
        },
    }
