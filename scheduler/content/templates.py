"""Rendering organizer-edited Jinja2 templates into a subject, a text and an HTML part.

The layout on disk is a contract (README: Templates)::

    {templates}/{language}/{stage}.subject.j2
    {templates}/{language}/{stage}.txt.j2
    {templates}/{language}/{stage}.html.j2

Shared layouts and partials resolve from the campaign's folder first, then from the
common ``templates/`` folder beside config.toml. Only regular files inside those two
folders are read: never through a symbolic link (``en/env.j2 -> /proc/self/environ``
would put the process's secrets in a message), so :class:`RootedLoader` opens each
component of a name with ``O_NOFOLLOW`` and ``check`` reports every link it finds
(:func:`unsafe_paths`).

The environment is an immutable sandbox with StrictUndefined and limits on time and
size (:mod:`.sandbox`): a typo is an error in ``check``, never a blank in a sent
email, templates reach only the context built in :func:`build_context`, and a render
that fails in any way is one :class:`~scheduler.errors.TemplateProblem` naming the
file and line. HTML parts are autoescaped.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from jinja2.loaders import split_template_path

from scheduler.config import CampaignConfig, Config, StageConfig
from scheduler.content.calendar import calendar_url, google_calendar_url, invitation
from scheduler.content.filters import FILTERS
from scheduler.content.message import Rendered
from scheduler.content.sandbox import LimitedSandbox, LimitExceeded
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


class TemplateLimit(TemplateProblem):
    """A render went over a limit on time or size (:mod:`.sandbox`) in ``file``."""

    def __init__(self, message: str, file: str) -> None:
        super().__init__(message)
        self.file = file


def template_name(language: str, stage_id: str, part: str) -> str:
    return f"{language}/{stage_id}.{part}.j2"


def _where(exc: BaseException, tb: TracebackType | None, default: str = "template") -> str:
    """file:line of the innermost template frame in a rendering traceback."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or exc.name}:{exc.lineno}"
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found or default


#: longest message kept from an exception a render raised (a value in it may be long)
_MESSAGE_CHARS = 300


def _what(exc: Exception) -> str:
    """One line saying what went wrong: Jinja2's own message, or the exception's type
    and message (a ZeroDivisionError, a RecursionError, Python's limit on digits)."""
    if isinstance(exc, TemplateProblem):
        text = str(exc)
    elif isinstance(exc, jinja2.TemplateError):
        text = exc.message or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


class RootedLoader(jinja2.BaseLoader):
    """Templates from the folders in ``roots``, the first that has the name winning, as
    Jinja2's FileSystemLoader finds them; but only regular files inside a root. Each
    component is opened relative to the one before with ``O_NOFOLLOW``, so neither a
    link nor a swap of a folder for a link between a check and the open can lead out;
    ``..`` is refused by ``split_template_path``. The roots themselves are the
    config's and are trusted as given. A link or a FIFO where a template is looked for
    is an error, not "not found": it never falls through to the next root."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [os.path.normpath(r) for r in roots]

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        try:
            pieces = split_template_path(template)
        except jinja2.TemplateNotFound:
            raise jinja2.TemplateNotFound(template, f"{template!r}: '..' may not appear in a template name") from None
        for root in self.roots:
            got = _read_under(root, pieces)
            if got is not None:
                filename = os.path.join(root, *pieces)
                return got[0], filename, functools.partial(_unchanged, filename, got[1])
        raise jinja2.TemplateNotFound(template, f"{template!r} not found in {' or '.join(self.roots)}")


def _unchanged(path: str, mtime: float) -> bool:
    try:
        return os.stat(path, follow_symlinks=False).st_mtime == mtime
    except OSError:
        return False


def _read_under(root: str, pieces: list[str]) -> tuple[str, float] | None:
    """The text and mtime of ``root/pieces...``, None when there is no such file."""
    if not pieces:
        return None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            path = os.path.join(root, *pieces[: i + 1])
            try:
                fd, parent = os.open(piece, flags, dir_fd=fd), fd
            except (FileNotFoundError, ValueError):  # ValueError: a NUL in the name
                return None
            except OSError as exc:
                if os.path.islink(path):
                    raise TemplateProblem(f"{path}: {_link_problem(path)}") from None
                if exc.errno == errno.ENOTDIR:
                    return None
                raise TemplateProblem(f"{path}: cannot be read ({exc.strerror})") from None
            os.close(parent)
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None
        if not stat.S_ISREG(st.st_mode):
            raise TemplateProblem(f"{path}: {_NOT_REGULAR}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8"), st.st_mtime
    except UnicodeDecodeError as exc:
        raise TemplateProblem(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


_NOT_REGULAR = "not a regular file (a device, FIFO or socket); templates must be regular files"


def _link_problem(path: str) -> str:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return f"a symbolic link (to {target!r}); templates are read only from regular files, never through a link"


def unsafe_paths(roots: Sequence[Path]) -> Iterator[tuple[str, str]]:
    """(path, what is wrong) for every symbolic link and every file that is not a
    regular file under ``roots``, whether or not a template uses it: what
    :class:`RootedLoader` would refuse. A root found inside another is not one."""
    own = {os.path.normpath(r) for r in roots}
    found: dict[str, str] = {}
    pending = sorted(own)
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.path in own or entry.path in found:
                continue
            if entry.is_symlink():
                found[entry.path] = _link_problem(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif not entry.is_file(follow_symlinks=False):
                found[entry.path] = _NOT_REGULAR
    yield from sorted(found.items())


class TemplateSet:
    """The templates of one campaign."""

    def __init__(self, config: Config, campaign: CampaignConfig) -> None:
        self.campaign = campaign
        self.root = config.campaign_templates(campaign)
        self.roots = [self.root, config.shared_templates]
        self.env = LimitedSandbox(
            filters=FILTERS,
            loader=RootedLoader(self.roots),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            keep_trailing_newline=True,
            auto_reload=False,
        )

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
        except TemplateProblem:
            raise
        except Exception as exc:  # e.g. a number literal longer than Python reads
            raise TemplateProblem(f"{self.root / name}: {_what(exc)}") from None

    def render(self, stage_id: str, context: Mapping[str, Any]) -> Rendered:
        language = self.language_for(str(context["subscriber"].language), stage_id)
        # The title in the language the message is written in, after any fallback.
        event = dict(context["event"], title=self.campaign.title_in(language))
        ctx = dict(context, language=language, event=event)
        out: dict[str, str] = {}
        for part in PARTS:
            template = self.get(language, stage_id, part)
            try:
                out[part] = self.env.render_part(template, ctx)
            except Exception as exc:
                # Whatever a template does wrong (1/0, recursion, a limit, a filter's own
                # error) is one line naming where, never a traceback.
                where = _where(exc, exc.__traceback__, template.filename or template.name or "template")
                if isinstance(exc, LimitExceeded):
                    raise TemplateLimit(f"{where}: {_what(exc)}", where.rsplit(":", 1)[0]) from None
                raise TemplateProblem(f"{where}: {_what(exc)}") from None
        if not out["txt"].strip():
            # Every message carries a plain-text part a reader can read (README: Templates).
            raise TemplateProblem(f"{self.path_of(language, stage_id, 'txt')}: the text part renders empty")
        # A subject is one header line: folding whitespace (and any CR/LF a name
        # smuggled in) collapses to single spaces.
        subject = one_line(out["subject"])
        html = inline_css(out["html"], str(self.path_of(language, stage_id, "html")))
        return Rendered(subject=subject, text=out["txt"], html=html, language=language)


#: Gmail and Outlook drop or ignore <style> rules, so every rule that can be is written
#: into the style attributes of the elements it selects; @media rules, which cannot be,
#: stay in a <style> for the clients that read them. Never a remote stylesheet: a
#: render reads nothing from the network.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


#: what there is to inline: a <style> element, or a <link> (a stylesheet it refuses)
_STYLESHEET = re.compile(r"<(?:style|link)\b", re.IGNORECASE)


def inline_css(markup: str, where: str) -> str:
    """``markup`` with its CSS inlined (README: Templates): once per content group, so
    the placeholders of :mod:`.groups` pass through it like any other text. A part
    whose CSS is already in style attributes (the shipped layouts) has nothing to
    inline and is returned as written, not parsed and serialized again."""
    if not _STYLESHEET.search(markup):
        return markup
    try:
        return str(_INLINER.inline(markup))
    except ValueError as exc:  # css_inline.InlineError: a stylesheet it cannot read
        raise TemplateProblem(f"{where}: CSS cannot be inlined: {one_line(str(exc))[:_MESSAGE_CHARS]}") from None


def build_context(
    config: Config,
    campaign: CampaignConfig,
    stage: StageConfig,
    year: int,
    subscriber: SubscriberView,
    unsubscribe_url: str,
    action_url: str = "",
) -> dict[str, Any]:
    """Every variable a template gets; the README documents each one."""
    number = anniversary_number(campaign.event_date, year)
    zone = ZoneInfo(subscriber.timezone)
    language = subscriber.language if subscriber.language in campaign.languages else campaign.languages[0]
    invite = invitation(config, campaign, year, language) if stage.calendar else None
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
        # The statement-for-the-record page, signed for this subscriber and campaign
        # year; empty when the campaign has no action (README: The statement for the record).
        "action_url": action_url,
        # Links to the invitation the message carries, for clients that hide attachments;
        # empty when the stage carries none (calendar = false).
        "calendar_url": calendar_url(config, campaign, year, language) if invite else "",
        "google_calendar_url": google_calendar_url(invite) if invite else "",
        "sender": {
            "postal_address": config.sender.postal_address,
            "from_name": config.sender.from_name,
            "public_url": config.sender.public_url,
        },
    }
