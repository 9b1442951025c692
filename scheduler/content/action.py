"""The statement for the record's letter (README: The statement for the record): the
prefilled text from the campaign's templates, and the message each target and the
subscriber receive. No database and no clock.

The templates are ``{templates}/{language}/action.subject.j2`` and ``action.txt.j2``,
rendered in the same sandbox, with the same variables and filters, as the campaign's
messages (:func:`~scheduler.content.templates.build_context`): ``anniversary.number``,
``event.date`` for the year and so on. The subscriber may edit the body unless the
organizer locked it; their name and postal address are added below it by the code, not
the template, so an edit can never drop them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.content.message import Rendered
from scheduler.content.templates import SubscriberView, TemplateSet, _where, build_context
from scheduler.core.dates import event_date_in
from scheduler.core.values import one_line
from scheduler.errors import TemplateProblem

ACTION = "action"
ACTION_PARTS = ("subject", "txt")

#: the stage a letter's context is built for: the event's day, no invitation
_LETTER_STAGE = StageConfig(id=ACTION, days_before=0, send_time=time(12, 0), calendar=False)

#: the lines around a letter, in the target's language when there are words for it
_NOTES = {
    "en": {
        "sent_for": "Sent on behalf of {name} through {org} ({url}). Reply to this email to reach {name}.",
        "copy_intro": "This is a copy of the letter sent in your name to: {targets}.",
        "copy_subject": "Your letter: {subject}",
    },
    "az": {
        "sent_for": "{name} adından {org} ({url}) vasitəsilə göndərilib. {name} ilə əlaqə üçün bu məktuba cavab yazın.",
        "copy_intro": "Bu, Sizin adınızdan göndərilən məktubun surətidir. Ünvanlar: {targets}.",
        "copy_subject": "Sizin məktubunuz: {subject}",
    },
    "ru": {
        "sent_for": "Отправлено от имени {name} через {org} ({url}). Чтобы связаться с {name}, ответьте на это письмо.",
        "copy_intro": "Это копия письма, отправленного от вашего имени: {targets}.",
        "copy_subject": "Ваше письмо: {subject}",
    },
    "tr": {
        "sent_for": (
            "{name} adına {org} ({url}) aracılığıyla gönderildi. {name} ile iletişim için bu e-postayı yanıtlayın."
        ),
        "copy_intro": "Bu, sizin adınıza şu alıcılara gönderilen mektubun bir kopyasıdır: {targets}.",
        "copy_subject": "Mektubunuz: {subject}",
    },
}


def notes(language: str) -> dict[str, str]:
    return _NOTES.get(language, _NOTES["en"])


def link_expires(campaign: CampaignConfig, year: int) -> datetime:
    """When a campaign year's action link stops working: the start of the event's date
    in the following year, in the event's zone (README: The statement for the record)."""
    day: date = event_date_in(campaign.event_date, year + 1, campaign.leap_day)
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(campaign.timezone)).astimezone(UTC)


def letter_context(config: Config, campaign: CampaignConfig, year: int, name: str, language: str) -> dict[str, Any]:
    """What the letter templates get: the messages' variables, for the event's day."""
    view = SubscriberView(name, language, campaign.timezone)
    return build_context(config, campaign, _LETTER_STAGE, year, view, "")


class LetterTemplates:
    """One campaign's letter templates; renders the prefilled letter."""

    def __init__(self, config: Config, campaign: CampaignConfig) -> None:
        self.config = config
        self.campaign = campaign
        self.set = TemplateSet(config, campaign)

    def language_for(self, language: str) -> str:
        """The subscriber's language when both parts exist, else the campaign's first."""
        if language in self.campaign.languages and all(
            self.set.path_of(language, ACTION, p).is_file() for p in ACTION_PARTS
        ):
            return language
        return self.campaign.languages[0]

    def render(self, year: int, name: str, language: str) -> Rendered:
        """The prefilled subject and letter; TemplateProblem naming file and line."""
        lang = self.language_for(language)
        ctx = letter_context(self.config, self.campaign, year, name, lang)
        ctx = dict(ctx, language=lang, event=dict(ctx["event"], title=self.campaign.title_in(lang)))
        out: dict[str, str] = {}
        for part in ACTION_PARTS:
            template = self.set.get(lang, ACTION, part)
            try:
                out[part] = self.set.env.render_part(template, ctx)
            except TemplateProblem:
                raise
            except Exception as exc:
                # file:line of the template frame, as the messages' problems say it
                where = _where(exc, exc.__traceback__, template.filename or str(self.set.path_of(lang, ACTION, part)))
                raise TemplateProblem(f"{where}: {one_line(str(exc))[:300] or type(exc).__name__}") from None
        text = out["txt"].strip("\n")
        if not text.strip():
            raise TemplateProblem(f"{self.set.path_of(lang, ACTION, 'txt')}: the letter renders empty")
        subject = one_line(out["subject"])
        if not subject:
            raise TemplateProblem(f"{self.set.path_of(lang, ACTION, 'subject')}: the subject renders empty")
        return Rendered(subject=subject, text=text + "\n", html="", language=lang)


@dataclass(frozen=True)
class Letter:
    """A letter as the subscriber sent it."""

    subject: str
    text: str
    name: str
    address: str
    language: str


def _as_html(text: str) -> str:
    """The text part as HTML: escaped, paragraphs kept; every message has both parts."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)
    return f'<!doctype html>\n<html><body style="font-family:Georgia,serif;line-height:1.5">\n{body}\n</body></html>\n'


def _signed(letter: Letter) -> str:
    return f"{letter.text.rstrip()}\n\n{letter.name}\n{letter.address}\n"


def to_target(letter: Letter, target_language: str, org: str, url: str) -> Rendered:
    """What a target receives: the letter, the subscriber's name and postal address
    below it, and one line saying who sent it through whom."""
    note = notes(target_language or letter.language)["sent_for"].format(name=letter.name, org=org, url=url)
    text = f"{_signed(letter)}\n-- \n{note}\n"
    return Rendered(subject=letter.subject, text=text, html=_as_html(text), language=letter.language)


def to_subscriber(letter: Letter, target_names: list[str]) -> Rendered:
    """The subscriber's copy: who it went to, then the letter as sent."""
    words = notes(letter.language)
    text = f"{words['copy_intro'].format(targets=', '.join(target_names))}\n\n{_signed(letter)}"
    subject = words["copy_subject"].format(subject=letter.subject)
    return Rendered(subject=subject, text=text, html=_as_html(text), language=letter.language)
