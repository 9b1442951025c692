"""``anniversary check``: render every campaign x stage x language for this year and
the next 10, with sample subscribers in several zones, and report what is wrong.

Besides syntax errors and undefined variables it looks for the mistake that started
this project: a number written by hand ("23rd", "twenty-first", "Twenty one years
later") that is not the anniversary computed for that year.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale

from scheduler.config import CampaignConfig, Config
from scheduler.content.links import Links, Signer
from scheduler.content.templates import PARTS, SubscriberView, TemplateSet, build_context
from scheduler.core import numbers
from scheduler.core.dates import anniversary_number
from scheduler.errors import TemplateProblem

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
    return " ".join(_WORD.findall(form.lower()))


_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+", re.UNICODE)
_MAX_WORDS = 4


@dataclass(frozen=True)
class _Lexicon:
    ordinals: dict[str, int]
    cardinals: dict[str, int]
    digit_ordinal: re.Pattern[str]
    year_word: re.Pattern[str] | None
    months: frozenset[str]


@lru_cache(maxsize=16)
def _lexicon(language: str) -> _Lexicon:
    """Every spelled ordinal and cardinal from 1 to 200 in every CLDR rule set of the
    language (all genders and cases for Russian), the digit-ordinal shape and month names."""
    lang = numbers.base_language(language)
    ordinals: dict[str, int] = {}
    cardinals: dict[str, int] = {}
    names = numbers.rulesets(lang)
    for n in range(1, _MAX + 1):
        for rs in names:
            try:
                if rs.startswith("spellout-ordinal"):
                    ordinals.setdefault(_key(numbers.spellout_ordinal(n, lang, rs)), n)
                elif rs.startswith("spellout-cardinal") or rs == "spellout-numbering":
                    cardinals.setdefault(_key(numbers.spellout(n, lang, rs)), n)
            except TemplateProblem:
                continue
    # Digits with a language's ordinal mark: 23rd, 23-cü, 23-я / 23-го, 23'üncü, 23. (tr)
    mark = {
        "en": r"(?:st|nd|rd|th)",
        "az": r"-(?:c[iıuü]|inci|ıncı|uncu|üncü)",
        "ru": r"-(?:[яйеми]|ая|ой|ий|ый|го|му|ом|ую|ее)",
        "tr": r"(?:'(?:[iıuü]?nc[iıuü])|\.(?=[ \t]+[^\W\d]))",
    }.get(lang, r"(?!)")
    digit_ordinal = re.compile(rf"(?<![\w.,'])(\d{{1,3}}){mark}(?!\w)", re.IGNORECASE)
    year_word = re.compile(_YEAR_WORDS[lang], re.IGNORECASE) if lang in _YEAR_WORDS else None
    loc = Locale.parse(lang)
    months = {
        _key(str(v))
        for ctx in ("format", "stand-alone")
        for width in ("wide", "abbreviated")
        for v in loc.months[ctx][width].values()
    }
    return _Lexicon(ordinals, cardinals, digit_ordinal, year_word, frozenset(months))


def hand_written_numbers(text: str, language: str, expected: int) -> list[str]:
    """Ordinals and year counts in ``text`` that are not ``expected``.

    A dictionary scan over word n-grams (not one giant regex alternation, which was
    ~5 ms per message): each run of up to four words is looked up among the spelled
    forms CLDR generates for 1..200.
    """
    lex = _lexicon(language)
    tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    words = [t[0].lower() for t in tokens]
    found: list[str] = []

    def near_month(i: int, j: int) -> bool:
        # "20th January", "the 19th of January", "January 20th": a date, not an anniversary.
        after = words[j : j + 2]
        if after and (after[0] in lex.months or (after[0] == "of" and len(after) > 1 and after[1] in lex.months)):
            return True
        return i > 0 and words[i - 1] in lex.months

    for m in lex.digit_ordinal.finditer(text):
        i = next((k for k, t in enumerate(tokens) if t[1] == m.start(1)), 0)
        j = next((k for k, t in enumerate(tokens) if t[1] >= m.end()), len(tokens))
        if int(m.group(1)) != expected and not near_month(i, j):
            found.append(f"{m.group(0)!r} is not the computed {numbers.ordinal(expected, language)}")
    i = 0
    while i < len(words):
        for size in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            key = " ".join(words[i : i + size])
            n = lex.ordinals.get(key)
            if n is not None:
                if n != expected and not near_month(i, i + size):
                    span = text[tokens[i][1] : tokens[i + size - 1][2]]
                    found.append(f"{span!r} is not the computed {numbers.ordinal(expected, language)}")
                i += size - 1
                break
            if lex.year_word is not None and i + size < len(words) and lex.year_word.fullmatch(words[i + size]):
                count = int(key) if key.isdigit() and size == 1 else lex.cardinals.get(key)
                gap = text[tokens[i + size - 1][2] : tokens[i + size][1]]
                if count is not None and count != expected and re.fullmatch(r"[\s\-]+", gap):
                    span = text[tokens[i][1] : tokens[i + size][2]]
                    found.append(f"{span!r} is not the computed {expected} years")
                    i += size
                    break
        i += 1
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
    links = Links(config, Signer.ephemeral())
    for year in range(max(first_year, campaign.event_date.year + 1), first_year + YEARS_AHEAD + 1):
        expected = anniversary_number(campaign.event_date, year)
        for i, zone in enumerate(SAMPLE_ZONES):
            view = SubscriberView(SAMPLE_NAMES[i % len(SAMPLE_NAMES)], language, zone)
            url = links.unsubscribe(1000 + i)
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
