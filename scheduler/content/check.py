"""``anniversary check``: render every campaign x stage x language for this year and
the next 10, with sample subscribers in several zones, and report what is wrong.

Besides syntax errors and undefined variables it looks for the mistake that started
this project: a number written by hand ("23rd", "twenty-first", "Twenty one years
later") that is not the anniversary computed for that year (:mod:`.handwritten`).

Each problem names the file, and the line where one can be found: for a number, the
template whose text holds it (the stage's part, or a layout or partial it extends or
includes); for a missing footer, the layout the part extends, where the footer lives.
A number that is wrong in several years is one problem that lists the years.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import jinja2
from jinja2 import meta, nodes

from scheduler.config import CampaignConfig, Config
from scheduler.content.check_action import check_action
from scheduler.content.check_warnings import NUMBERS_DIFFER, URL, message_warnings
from scheduler.content.handwritten import Finding, hand_written_numbers
from scheduler.content.links import Links, Signer
from scheduler.content.templates import (
    PARTS,
    SubscriberView,
    TemplateLimit,
    TemplateSet,
    build_context,
    template_name,
    unsafe_paths,
)
from scheduler.core.dates import LAST_YEAR, anniversary_number
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

# Between the words of a number in template source: what renders as a space or a hyphen.
_SOURCE_GAP = r"(?:[\s\-\u00ad]|&nbsp;|&#160;|<[^>]*>)+"
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    where: str
    message: str
    #: printed, but does not fail ``check`` (:mod:`.check_warnings`)
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {'warning: ' if self.warning else ''}{self.message}"


def check_years(event_date: date, first_year: int) -> range:
    """The years ``check`` renders from ``first_year``: ten more, within the years that
    have an anniversary. A first year past the last (or a window before the first
    anniversary) is a usage error, as it is for every command that takes ``--year``."""
    first = max(first_year, event_date.year + 1)
    anniversary_number(event_date, first)
    last = min(first_year + YEARS_AHEAD, LAST_YEAR)
    if last < first:
        anniversary_number(event_date, first_year)
    return range(first, last + 1)


def years_text(years: set[int]) -> str:
    """2027, 2029–2037: runs of consecutive years as ranges."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


class _Sources:
    """The source of the campaign's templates, to say which file and line a piece of
    rendered text comes from. Names resolve as rendering resolves them: through the
    template set's own loader, campaign folder first, then the shared folder."""

    def __init__(self, templates: TemplateSet) -> None:
        self.env = templates.env
        self._files: dict[str, tuple[str, str] | None] = {}
        self._found: dict[tuple[str, str], list[str]] = {}
        self._trees: dict[str, nodes.Template | None] = {}
        self._layouts: dict[str, str] = {}

    def _file(self, name: str) -> tuple[str, str] | None:
        """(file name, source with Jinja comments blanked out, lines kept)."""
        if name not in self._files:
            loader = self.env.loader
            try:
                if loader is None:
                    raise jinja2.TemplateNotFound(name)
                source, filename, _ = loader.get_source(self.env, name)
            except (jinja2.TemplateNotFound, TemplateProblem):  # a link: reported on its own
                self._files[name] = None
            else:
                blank = _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)
                self._files[name] = (filename or name, blank)
        return self._files[name]

    def path(self, name: str) -> str:
        got = self._file(name)
        return got[0] if got else name

    def _parse(self, name: str) -> nodes.Template | None:
        if name not in self._trees:
            got = self._file(name)
            try:
                self._trees[name] = self.env.parse(got[1]) if got else None
            except jinja2.TemplateSyntaxError:
                self._trees[name] = None
        return self._trees[name]

    def family(self, name: str) -> list[str]:
        """``name`` and every template it extends, includes or imports, nearest first."""
        order = [name]
        for current in order:
            tree = self._parse(current)
            if tree is not None:
                order += [n for n in meta.find_referenced_templates(tree) if n and n not in order]
        return order

    def layout(self, name: str) -> str:
        """The file of the layout at the root of ``name``'s extends chain (where a shared
        footer lives), or of ``name`` itself when it extends nothing."""
        if name not in self._layouts:
            chain = [name]
            while (tree := self._parse(chain[-1])) is not None:
                parents = [
                    e.template.value for e in tree.find_all(nodes.Extends) if isinstance(e.template, nodes.Const)
                ]
                parent = parents[0] if parents else None
                if not isinstance(parent, str) or parent in chain or self._file(parent) is None:
                    break
                chain.append(parent)
            self._layouts[name] = self.path(chain[-1])
        return self._layouts[name]

    def find(self, name: str, pattern: re.Pattern[str]) -> str | None:
        """``file:line`` of the first match of ``pattern`` in ``name`` and its family."""
        for member in self.family(name):
            got = self._file(member)
            if got is not None and (m := pattern.search(got[1])):
                return f"{got[0]}:{got[1].count(chr(10), 0, m.start()) + 1}"
        return None

    def locate(self, name: str, span: str, nth: int) -> str | None:
        """``file:line`` of the ``nth`` occurrence of ``span`` in the source of ``name``
        and its family (the last one found when there are fewer), or None."""
        key = (name, span)
        if key not in self._found:
            pieces = [re.escape(p) for p in re.split(r"[\s\-\u00ad]+", span) if p]
            pattern = re.compile(rf"(?<!\w){_SOURCE_GAP.join(pieces)}(?!\w)", re.IGNORECASE)
            places = []
            for member in self.family(name):
                got = self._file(member)
                if got is not None:
                    places += [f"{got[0]}:{got[1].count(chr(10), 0, m.start()) + 1}" for m in pattern.finditer(got[1])]
            self._found[key] = places
        places = self._found[key]
        return places[min(nth, len(places) - 1)] if places else None


@dataclass
class _Wrong:
    """One hand-written number (or, when no template text holds it, one part's numbers)."""

    part: str
    replacement: str
    spans: list[str] = field(default_factory=list)
    years: set[int] = field(default_factory=set)

    def message(self) -> str:
        years = years_text(self.years)
        if len(self.spans) == 1:
            what = f"hand-written number {self.spans[0]!r} is"
        else:
            shown = ", ".join(repr(s) for s in self.spans[:3]) + (", …" if len(self.spans) > 3 else "")
            what = f"numbers {shown} are"
        return f"{self.part}: {what} wrong in {years} (write {self.replacement})"


def check_campaign(
    config: Config,
    campaign: CampaignConfig,
    first_year: int,
    *,
    last_year: int | None = None,
    only: tuple[str, str] | None = None,
    failed: set[int] | None = None,
) -> Iterator[Problem]:
    """Every problem and warning of ``campaign`` from ``first_year`` (the studio narrows
    it to years up to ``last_year``, and to one (stage, language) with ``only``, and
    reads the years with a problem in ``failed``)."""
    years = check_years(campaign.event_date, first_year)
    if last_year is not None:
        years = range(years.start, min(years.stop, last_year + 1))
    failed = set() if failed is None else failed
    templates = TemplateSet(config, campaign)
    # Links and devices are refused when a template is loaded; report them all, used
    # or not, before one is (README: Templates).
    for path, what in unsafe_paths(templates.roots):
        failed.update(years)
        yield Problem(path, what)
    sources = _Sources(templates)
    wrong: dict[tuple[str, str, str, str], _Wrong] = {}
    #: files where a render went over a limit: reported once, not rendered again
    limited: set[str] = set()
    warnings: list[Problem] = []
    for stage in campaign.stage:
        for language in campaign.languages:
            if only is not None and only != (stage.id, language):
                continue
            missing = templates.missing(language, stage.id)
            for absent in missing:
                fallback = "" if language == campaign.languages[0] else f"; {campaign.languages[0]!r} is sent instead"
                yield Problem(str(absent), f"missing ({campaign.id}/{stage.id}/{language}){fallback}")
            # Parse every part first, so a syntax error is reported once with file:line.
            broken = False
            for part in PARTS if not missing else ():
                try:
                    templates.get(language, stage.id, part)
                except TemplateProblem as exc:
                    broken = True
                    yield Problem(str(exc).split(": ", 1)[0], str(exc).split(": ", 1)[1])
            if missing or broken or _uses(sources, limited, language, stage.id):
                failed.update(years)
                continue
            for p in _check_renders(
                config, campaign, templates, sources, stage.id, language, years, wrong, limited, failed
            ):
                if p.warning:
                    warnings.append(p)
                else:
                    yield p
    for (where, *_), w in wrong.items():
        yield Problem(where, w.message())
    # A number the parts disagree on where a wrong number is already reported: the
    # error says it better, with what to write instead.
    wrong_at = {where for where, *_ in wrong}
    yield from (w for w in warnings if not (w.message.startswith(NUMBERS_DIFFER) and w.where in wrong_at))


def _check_renders(
    config: Config,
    campaign: CampaignConfig,
    templates: TemplateSet,
    sources: _Sources,
    stage_id: str,
    language: str,
    years: range,
    wrong: dict[tuple[str, str, str, str], _Wrong],
    limited: set[str],
    failed: set[int],
) -> Iterator[Problem]:
    stage = campaign.get_stage(stage_id)
    seen: set[str] = set()
    links = Links(config, Signer.ephemeral())
    for year in years:
        expected = anniversary_number(campaign.event_date, year)
        for i, zone in enumerate(SAMPLE_ZONES):
            view = SubscriberView(SAMPLE_NAMES[i % len(SAMPLE_NAMES)], language, zone)
            url = links.unsubscribe(1000 + i)
            try:
                out = templates.render(stage_id, build_context(config, campaign, stage, year, view, url))
            except TemplateProblem as exc:
                failed.add(year)
                msg = str(exc)
                if msg not in seen:
                    seen.add(msg)
                    yield Problem(msg.split(": ", 1)[0], f"year {year}, {zone}: {msg.split(': ', 1)[-1]}")
                if isinstance(exc, TemplateLimit):
                    # Over a limit once is over it every year: one problem, and no more
                    # seconds spent on renders that end the same way.
                    limited.add(exc.file)
                    failed.update(y for y in years if y > year)
                    return
                continue
            plain_html = _strip_tags(out.html)
            # A URL is not prose: "%208.005-ci" in a calendar link is no number.
            parts = (("subject", out.subject), ("txt", out.text), ("html", plain_html))
            numbers = {part: hand_written_numbers(URL.sub(" ", text), language, expected) for part, text in parts}
            # The parts can state different numbers only where one states a wrong one.
            differ = bool(numbers["txt"] or numbers["html"])
            for w in message_warnings(out, plain_html, language, f"{year}, {zone}", numbers=differ):
                name = template_name(language, stage_id, w.part)
                found = (
                    sources.find(name, w.look_for)
                    if isinstance(w.look_for, re.Pattern)
                    else sources.locate(name, w.look_for, 0)
                    if w.look_for
                    else None
                )
                where = found or sources.path(name)
                # One warning of a kind per place, in the first year and zone it shows.
                if f"warning {where} {w.kind}" not in seen:
                    seen.add(f"warning {where} {w.kind}")
                    yield Problem(where, w.message, warning=True)
            footer_problems: list[tuple[str, str]] = []
            for part, text in (("txt", out.text), ("html", plain_html)):
                footer = sources.layout(template_name(language, stage_id, part))
                if url not in text and not (part == "html" and f'href="{html.escape(url)}"' in out.html):
                    footer_problems.append((footer, f"{part} part has no unsubscribe link ({{{{ unsubscribe_url }}}})"))
                if " ".join(config.sender.postal_address.split()) not in " ".join(text.split()):
                    footer_problems.append(
                        (footer, f"{part} part has no postal address ({{{{ sender.postal_address }}}})")
                    )
            if f'href="{html.escape(url)}"' not in out.html:
                footer = sources.layout(template_name(language, stage_id, "html"))
                footer_problems.append((footer, "html part has no <a href> to the unsubscribe link"))
            for where, message in footer_problems:
                failed.add(year)
                yield from _once(seen, where, message)
            for part, findings in numbers.items():
                if findings:
                    failed.add(year)
                _collect(sources, template_name(language, stage_id, part), part, year, findings, wrong)


def _uses(sources: _Sources, files: set[str], language: str, stage_id: str) -> bool:
    """Whether a part of this stage and language is, extends or includes one of ``files``."""
    return bool(files) and any(
        sources.path(member) in files
        for part in PARTS
        for member in sources.family(template_name(language, stage_id, part))
    )


def _collect(
    sources: _Sources,
    name: str,
    part: str,
    year: int,
    findings: list[Finding],
    wrong: dict[tuple[str, str, str, str], _Wrong],
) -> None:
    """File each finding under the template text that holds it; one that no template
    text holds (a number computed some other way than by the filters) under its part."""
    nth: dict[str, int] = {}
    for f in findings:
        where = sources.locate(name, f.span, nth.get(f.span, 0))
        nth[f.span] = nth.get(f.span, 0) + 1
        key = (where, part, f.span, f.replacement) if where else (sources.path(name), part, "", f.replacement)
        w = wrong.setdefault(key, _Wrong(part, f.replacement))
        if f.span not in w.spans:
            w.spans.append(f.span)
        w.years.add(year)


def _strip_tags(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _once(seen: set[str], where: str, message: str) -> Iterator[Problem]:
    if f"{where}: {message}" not in seen:
        seen.add(f"{where}: {message}")
        yield Problem(where, message)


def run_check(
    config: Config, first_year: int, *, warnings: bool = False, regions: Mapping[str, int] | None = None
) -> list[Problem]:
    """Every problem of every campaign, each once, and with ``warnings`` every warning
    after them. Raises UsageError for a first year outside the years that have an
    anniversary, before rendering anything. ``regions`` (subscribers by region, when
    the database is at hand) lets the action's check name regions without a target."""
    for campaign in config.campaign:
        check_years(campaign.event_date, first_year)
    problems: dict[str, Problem] = {}
    for campaign in config.campaign:
        for p in check_campaign(config, campaign, first_year):
            problems.setdefault(str(p), p)
        years = check_years(campaign.event_date, first_year)
        for where, what, warning in check_action(config, campaign, years, regions):
            p = Problem(where, what, warning)
            problems.setdefault(str(p), p)
    found = list(problems.values())
    errors = [p for p in found if not p.warning]
    return errors + [p for p in found if p.warning] if warnings else errors
