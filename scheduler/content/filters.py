"""The filters templates use beside Jinja2's own (README: Filters). Each takes the
message's language from the template context, so ``{{ n|ordinal }}`` is "37th" in an
English message and "37-ci" in an Azerbaijani one. Add a filter here and to FILTERS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date, format_datetime, format_time, get_relative_name, get_timezone_name
from markupsafe import Markup

from scheduler.core import numbers


def _lang(ctx: Any) -> str:
    return str(ctx.get("language") or "en")


def _babel_locale(language: str) -> str:
    return language.replace("-", "_")


@jinja2.pass_context
def _f_ordinal(ctx: Any, n: int, ruleset: str | None = None) -> str:
    text = numbers.ordinal(n, _lang(ctx), ruleset)
    if not ctx.eval_ctx.autoescape:
        return text
    # A narrow screen may break "37-я", "37-ci" or "37'nci" after the hyphen or the
    # apostrophe, leaving the suffix alone on the next line; in HTML keep it whole.
    return Markup('<span style="white-space:nowrap">%s</span>') % text


@jinja2.pass_context
def _f_spellout_ordinal(ctx: Any, n: int, ruleset: str | None = None) -> str:
    return numbers.spellout_ordinal(n, _lang(ctx), ruleset)


@jinja2.pass_context
def _f_spellout(ctx: Any, n: int, ruleset: str | None = None) -> str:
    return numbers.spellout(n, _lang(ctx), ruleset)


@jinja2.pass_context
def _f_format_date(ctx: Any, value: date | datetime, fmt: str = "long") -> str:
    return format_date(value, fmt, locale=_babel_locale(_lang(ctx)))


@jinja2.pass_context
def _f_format_time(ctx: Any, value: datetime, fmt: str = "short") -> str:
    return format_time(value, fmt, tzinfo=value.tzinfo, locale=_babel_locale(_lang(ctx)))


@jinja2.pass_context
def _f_format_datetime(ctx: Any, value: datetime, fmt: str = "long") -> str:
    return format_datetime(value, fmt, tzinfo=value.tzinfo, locale=_babel_locale(_lang(ctx)))


@jinja2.pass_context
def _f_relative_day(ctx: Any, moment: datetime, reference: datetime | None = None) -> str:
    """The day of ``moment`` named from ``reference`` (default: when this message is
    sent), on ``moment``'s clock: CLDR's "today", "tomorrow", "yesterday" ("bu gün",
    "завтра", "yarın"); a long date when CLDR has no name for the distance."""
    if reference is None:
        reference = ctx["stage"]["send_local"]
    days = (moment.date() - reference.astimezone(moment.tzinfo).date()).days
    locale = _babel_locale(_lang(ctx))
    return get_relative_name("day", days, locale=locale) or format_date(moment, "long", locale=locale)


@jinja2.pass_context
def _f_time_of_day(ctx: Any, value: datetime) -> str:
    """A time as people say it: where the language's clock is 12-hour, CLDR's own words
    for 00:00 and 12:00 ("midnight", "noon" rather than "12:00 AM"); otherwise its short
    time ("00:00")."""
    locale = Locale.parse(_babel_locale(_lang(ctx)))
    twelve_hour = "h" in locale.time_formats["short"].pattern
    if twelve_hour and value.minute == 0 and value.hour in (0, 12):
        word = locale.day_periods["format"]["wide"].get("midnight" if value.hour == 0 else "noon")
        if word:
            return str(word)
    return format_time(value, "short", tzinfo=value.tzinfo, locale=locale)


@jinja2.pass_context
def _f_zone_name(ctx: Any, value: datetime) -> str:
    return get_timezone_name(value, locale=_babel_locale(_lang(ctx)))


FILTERS: dict[str, Callable[..., str]] = {
    "ordinal": _f_ordinal,
    "spellout_ordinal": _f_spellout_ordinal,
    "spellout": _f_spellout,
    "format_date": _f_format_date,
    "format_time": _f_format_time,
    "format_datetime": _f_format_datetime,
    "zone_name": _f_zone_name,
    "relative_day": _f_relative_day,
    "time_of_day": _f_time_of_day,
}
