"""The filters templates use beside Jinja2's own (README: Filters). Each takes the
message's language from the template context, so ``{{ n|ordinal }}`` is "37th" in an
English message and "37-ci" in an Azerbaijani one. Add a filter here and to FILTERS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import jinja2
from babel.dates import format_date, format_datetime, format_time, get_timezone_name

from scheduler.core import numbers


def _lang(ctx: Any) -> str:
    return str(ctx.get("language") or "en")


def _babel_locale(language: str) -> str:
    return language.replace("-", "_")


@jinja2.pass_context
def _f_ordinal(ctx: Any, n: int, ruleset: str | None = None) -> str:
    return numbers.ordinal(n, _lang(ctx), ruleset)


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
}
