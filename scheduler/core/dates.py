"""The pure core of the calendar: anniversary numbers, the event's date in a year, and
the moments (silence, stage sends) in any zone. No I/O and no clock: ``now`` is passed in.

Time rule: everything is computed as an aware datetime and compared in UTC; zones are
applied only to turn a wall-clock time (08:00 in Los Angeles) into a moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from scheduler.errors import UsageError

LeapDayRule = Literal["feb28", "mar1"]

#: the last year a date can hold (Python's date, ISO 8601's four digits)
LAST_YEAR = 9999


def event_date_in(event_date: date, year: int, leap_day: LeapDayRule = "feb28") -> date:
    """The date the event is commemorated in ``year``.

    An event on 29 February is kept on 28 February in common years by default, so the
    commemoration stays in the month it happened and comes before, never after, the
    day it marks; ``leap_day = "mar1"`` in the campaign moves it to 1 March instead
    (the rule some legal calendars use for 29 February birthdays).
    """
    if event_date.month == 2 and event_date.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 3, 1) if leap_day == "mar1" else date(year, 2, 28)
    return event_date.replace(year=year)


def anniversary_number(event_date: date, year: int) -> int:
    """2027 is the 37th anniversary of 20 January 1990."""
    number = year - event_date.year
    if number < 1:
        raise UsageError(
            f"year {year} has no anniversary of an event on {event_date.isoformat()}; "
            f"the first is {event_date.year + 1}"
        )
    if year > LAST_YEAR:
        raise UsageError(f"year {year} is out of range: years run from {event_date.year + 1} to {LAST_YEAR}")
    return number


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The moment the clocks in ``zone`` show ``day`` ``at``, as an aware UTC datetime.

    Across daylight-saving changes: a wall time that happens twice (clocks go back) is
    the first of the two (fold=0); one that never happens (clocks go forward) moves
    forward by the length of the gap, 02:30 becoming 03:30, as APScheduler does.
    """
    local = datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone)
    moment = local.astimezone(UTC)
    return moment


@dataclass(frozen=True)
class Moment:
    """One instant, with the zones it is shown in."""

    utc: datetime

    def in_zone(self, zone: ZoneInfo | str) -> datetime:
        tz = ZoneInfo(zone) if isinstance(zone, str) else zone
        return self.utc.astimezone(tz)


def silence_moment(event_date: date, year: int, silence_time: time, event_zone: str, leap_day: LeapDayRule) -> Moment:
    """The minute of silence is one moment everywhere: 12:00 in Baku on 20 January."""
    day = event_date_in(event_date, year, leap_day)
    return Moment(wall_time(day, silence_time, ZoneInfo(event_zone)))


def stage_due(
    event_date: date,
    year: int,
    days_before: int,
    send_time: time,
    subscriber_zone: str,
    leap_day: LeapDayRule,
) -> datetime:
    """When a stage is due for a subscriber: ``send_time`` on their own wall clock,
    ``days_before`` days before the event's date (08:00 in Los Angeles comes 12 hours
    after 08:00 in Baku)."""
    day = event_date_in(event_date, year, leap_day) - timedelta(days=days_before)
    return wall_time(day, send_time, ZoneInfo(subscriber_zone))


def coming_year(event_date: date, event_zone: str, now: datetime, leap_day: LeapDayRule) -> int:
    """The campaign year a newcomer means by "the coming January": this year's until the
    event's day has passed in the event's own zone, then next year's."""
    today = now.astimezone(ZoneInfo(event_zone)).date()
    year = today.year
    if today > event_date_in(event_date, year, leap_day):
        year += 1
    return max(year, event_date.year + 1)


def resolve_year(event_date: date, event_zone: str, leap_day: LeapDayRule, year: int | None, now: datetime) -> int:
    """The campaign year a command means: ``year`` when given (checked to have an
    anniversary), else the coming one. Every command that takes ``--year`` asks here."""
    if year is None:
        return coming_year(event_date, event_zone, now, leap_day)
    anniversary_number(event_date, year)  # raises for a year before the first
    return year
