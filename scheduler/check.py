"""``anniversary check``: render every campaign x stage x language for this year and
the next 10, with sample subscribers in several zones, and report what is wrong.

Besides syntax errors and undefined variables it looks for the mistake that started
this project: a number written by hand ("23rd", "twenty-first", "Twenty one years
later") that is not the anniversary computed for that year.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale

from scheduler import numbers
from scheduler.anniversary import anniversary_number
from scheduler.config import CampaignConfig, Config
from scheduler.errors import TemplateProblem
from scheduler.render import PARTS, SubscriberView, TemplateSet, build_context, unsubscribe_url

SAMPLE_ZONES = (
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Baku",
    "Australia/Sydney",
    "Pacific/Kiritimati",
)
# Names that must survive rendering: empty, HTML, quotes, non-Latin script.
SAMPLE_NAMES = ("", "Ana <b>Smith</b> & Co", "Aysel Məmmədova", "O'Brien", "Анна")
YEARS_AHEAD = 10
_MAX = 200

# Words for "year(s)" after a count, per language.
_YEAR_WORDS = {
    "en": r"years?",
    "az": r"il(?:dir|dən|lik)?",
    "ru": r"(?:год|года|лет)",
    "tr": r"yıl(?:dır|lık)?",
}


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _key(form: str) -> str:
    return re.sub(r"[\s\-]+", " ", form.strip().lower())


def _words(form: str) -> str:
    return r"[\s\-]+".join(re.escape(w) for w in re.split(r"[\s\-]+", form.strip()))


@lru_cache(maxsize=16)
def _patterns(language: str) -> tuple[re.Pattern[str], re.Pattern[str] | None, dict[str, int], dict[str, int]]:
    """(ordinal regex, year-count regex, ordinal form -> n, cardinal form -> n)."""
    lang = numbers.base_language(language)
    ordinals: dict[str, int] = {}
    cardinals: dict[str, int] = {}
    names = numbers.rulesets(lang)
    for n in range(1, _MAX + 1):
        for rs in names:
            try:
                if "ordinal" in rs:
                    ordinals.setdefault(_key(numbers.spellout_ordinal(n, lang, rs)), n)
                elif rs.startswith("spellout-cardinal") or rs == "spellout-numbering":
                    cardinals.setdefault(_key(numbers.spellout(n, lang, rs)), n)
            except TemplateProblem:
                continue
        with contextlib.suppress(TemplateProblem):
            ordinals.setdefault(numbers.ordinal(n, lang).lower(), n)
    spelled = sorted((f for f in ordinals if not f[0].isdigit()), key=len, reverse=True)
    # Digits with a language's ordinal mark: 23rd, 23-cü, 23-я / 23-го, 23'üncü, 23.
    digit_mark = {
        "en": r"(?:st|nd|rd|th)",
        "az": r"-(?:c[iıuü]|inci|ıncı|uncu|üncü)",
        "ru": r"-(?:[яйеми]|ая|ой|ий|ый|го|му|ом|ую|ее)",
        "tr": r"(?:'(?:[iıuü]?nc[iıuü])|\.(?=\s+\w))",
    }.get(lang, r"(?!)")
    ordinal_re = re.compile(
        rf"(?<![\w.,])(?:(?P<digits>\d{{1,3}}){digit_mark}|(?P<word>{'|'.join(_words(f) for f in spelled) or '(?!)'}))(?![\w])",
        re.IGNORECASE,
    )
    year_word = _YEAR_WORDS.get(lang)
    year_re = None
    if year_word:
        spelled_c = sorted(cardinals, key=len, reverse=True)
        year_re = re.compile(
            rf"(?<![\w.,])(?:(?P<digits>\d{{1,3}})|(?P<word>{'|'.join(_words(f) for f in spelled_c)}))[\s\-]+{year_word}(?!\w)",
            re.IGNORECASE,
        )
    return ordinal_re, year_re, ordinals, cardinals


@lru_cache(maxsize=16)
def _months(language: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    loc = Locale.parse(numbers.base_language(language))
    names: set[str] = set()
    for ctx in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            names.update(str(v).lower() for v in loc.months[ctx][width].values())
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return (
        re.compile(rf"^\s*(?:of\s+)?(?:{alt})(?!\w)", re.IGNORECASE),
        re.compile(rf"(?<!\w)(?:{alt})\s*$", re.IGNORECASE),
    )


def _value(match: re.Match[str], forms: dict[str, int]) -> int:
    if match.group("digits"):
        return int(match.group("digits"))
    key = re.sub(r"[\s\-]+", " ", match.group("word").lower())
    return forms.get(key, -1)


def hand_written_numbers(text: str, language: str, expected: int) -> list[str]:
    """Ordinals and year counts in ``text`` that are not ``expected``."""
    ordinal_re, year_re, ordinals, cardinals = _patterns(language)
    month_after, month_before = _months(language)
    found = []
    for m in ordinal_re.finditer(text):
        # "20th January" / "January 20th" is a date, not an anniversary.
        before, after = text[max(0, m.start() - 15) : m.start()], text[m.end() : m.end() + 15]
        if month_after.search(after) or month_before.search(before):
            continue
        n = _value(m, ordinals)
        if n != expected:
            found.append(f"{m.group(0)!r} is not the computed {numbers.ordinal(expected, language)}")
    if year_re is not None:
        for m in year_re.finditer(text):
            n = _value(m, cardinals)
            if n != expected:
                found.append(f"{m.group(0)!r} is not the computed {expected} years")
    return found


def _strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def check_campaign(config: Config, campaign: CampaignConfig, first_year: int) -> Iterator[Problem]:
    templates = TemplateSet(config, campaign)
    for stage in campaign.stage:
        for language in campaign.languages:
            missing = templates.missing(language, stage.id)
            for path in missing:
                fallback = "" if language == campaign.languages[0] else f"; {campaign.languages[0]!r} is sent instead"
                yield Problem(str(path), f"missing ({campaign.id}/{stage.id}/{language}){fallback}")
            if missing:
                continue
            # Parse every part first, so a syntax error is reported once with file:line.
            broken = False
            for part in PARTS:
                try:
                    templates.get(language, stage.id, part)
                except TemplateProblem as exc:
                    broken = True
                    yield Problem(str(exc).split(": ", 1)[0], str(exc).split(": ", 1)[1])
            if broken:
                continue
            yield from _check_renders(config, campaign, templates, stage.id, language, first_year)


def _check_renders(
    config: Config,
    campaign: CampaignConfig,
    templates: TemplateSet,
    stage_id: str,
    language: str,
    first_year: int,
) -> Iterator[Problem]:
    stage = campaign.get_stage(stage_id)
    where = str(templates.path_of(language, stage_id, "txt").parent / f"{stage_id}.*.j2")
    seen: set[str] = set()
    for year in range(max(first_year, campaign.event_date.year + 1), first_year + YEARS_AHEAD + 1):
        expected = anniversary_number(campaign.event_date, year)
        for i, zone in enumerate(SAMPLE_ZONES):
            view = SubscriberView(SAMPLE_NAMES[i % len(SAMPLE_NAMES)], language, zone)
            url = unsubscribe_url(config, f"v1.{1000 + i}.check-token")
            try:
                out = templates.render(stage_id, build_context(config, campaign, stage, year, view, url))
            except TemplateProblem as exc:
                msg = str(exc)
                if msg not in seen:
                    seen.add(msg)
                    yield Problem(msg.split(": ", 1)[0], f"year {year}, {zone}: {msg.split(': ', 1)[-1]}")
                continue
            plain_html = _strip_tags(out.html)
            for part, text in (("txt", out.text), ("html", plain_html)):
                if url not in text and not (part == "html" and f'href="{html.escape(url)}"' in out.html):
                    yield _once(seen, where, f"{part} part has no unsubscribe link ({{{{ unsubscribe_url }}}})")
                if " ".join(config.sender.postal_address.split()) not in " ".join(text.split()):
                    yield _once(seen, where, f"{part} part has no postal address ({{{{ sender.postal_address }}}})")
            if f'href="{html.escape(url)}"' not in out.html:
                yield _once(seen, where, "html part has no <a href> to the unsubscribe link")
            for part, text in (("subject", out.subject), ("txt", out.text), ("html", plain_html)):
                for found in hand_written_numbers(text, language, expected):
                    yield _once(seen, where, f"{part}, year {year}: hand-written number {found}")
    return


def _once(seen: set[str], where: str, message: str) -> Problem:
    seen.add(message)
    return Problem(where, message)


def run_check(config: Config, first_year: int) -> list[Problem]:
    problems: list[Problem] = []
    for campaign in config.campaign:
        for p in check_campaign(config, campaign, first_year):
            if str(p) not in {str(q) for q in problems}:
                problems.append(p)
    return problems
