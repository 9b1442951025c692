"""When a silence-timed stage goes out, on the subscriber's own clock.

A stage with ``send_before_silence`` is timed from the one global moment of silence
rather than from a wall-clock time: 4 hours before 12:00 in Baku is 08:00 in Baku,
20:00 the evening before in Los Angeles. ``quiet_hours`` (say 22:00 to 07:00, on the
subscriber's clock, the end excluded) keep it from waking anyone:

- outside them, it goes at the computed moment;
- inside them, it goes when they end, if that is still ``min_lead`` before the silence;
- failing that, at the last moment before they began: 22:00, the evening before.

README: Time, "Stages timed from the silence". Pure: no clock, ``now`` is a parameter
where one is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.core.dates import wall_time

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$", re.IGNORECASE)


def parse_duration(value: str) -> timedelta:
    """``"4h"``, ``"90m"``, ``"1h30m"``; ValueError naming what is allowed."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError(f"must be a duration such as 4h, 90m or 1h30m (got {value!r})")
    return timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))


def format_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or not hours else "")


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` up to, not including, ``end``, on a local clock; may wrap midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def period_around(self, moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The quiet period that ``moment`` falls in, as (began, ends) in UTC; None when
        it falls outside quiet hours. Wall times that a daylight-saving change skips or
        repeats follow the rules of :func:`~scheduler.core.dates.wall_time`."""
        local = moment.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if self.start <= self.end:
            start_day, end_day = day, day
        elif local.time().replace(tzinfo=None) >= self.start:
            start_day, end_day = day, day + timedelta(days=1)
        else:
            start_day, end_day = day - timedelta(days=1), day
        return wall_time(start_day, self.start, zone), wall_time(end_day, self.end, zone)


def silence_send_time(
    silence: datetime,
    zone: str,
    before: timedelta,
    quiet: QuietHours | None,
    min_lead: timedelta,
) -> datetime:
    """When a stage timed ``before`` the silence goes out in ``zone``, in UTC."""
    moment = (silence - before).astimezone(UTC)
    if quiet is None:
        return moment
    period = quiet.period_around(moment, ZoneInfo(zone))
    if period is None:
        return moment
    began, ends = period
    if ends <= silence - min_lead:
        return ends
    return began


def quiet_until(now: datetime, zone: str, quiet: QuietHours | None) -> datetime | None:
    """For a run that finds a silence-timed message due at ``now`` (a catch-up after
    downtime, say): None to send now, or the moment the quiet hours it falls in end, to
    hold it until then. The caller skips it when that is past the silence."""
    if quiet is None:
        return None
    period = quiet.period_around(now, ZoneInfo(zone))
    return None if period is None else period[1]
