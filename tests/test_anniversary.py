"""The pure calendar core: numbers, dates, moments, across DST and 29 February."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.core.dates import (
    anniversary_number,
    coming_year,
    event_date_in,
    silence_moment,
    stage_due,
    wall_time,
)
from scheduler.errors import UsageError

BLACK_JANUARY = date(1990, 1, 20)
ZONES = [
    "Asia/Baku",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Sydney",
    "Pacific/Kiritimati",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Asia/Kathmandu",
]


def test_2027_is_the_37th_anniversary() -> None:
    assert anniversary_number(BLACK_JANUARY, 2027) == 37


def test_year_of_the_event_has_no_anniversary() -> None:
    with pytest.raises(UsageError, match="year 1990 has no anniversary .* the first is 1991"):
        anniversary_number(BLACK_JANUARY, 1990)


def test_leap_day_event_in_common_year_defaults_to_28_february() -> None:
    assert event_date_in(date(1996, 2, 29), 2027) == date(2027, 2, 28)


def test_leap_day_event_in_common_year_with_mar1_rule() -> None:
    assert event_date_in(date(1996, 2, 29), 2027, "mar1") == date(2027, 3, 1)


def test_leap_day_event_in_leap_year_is_29_february() -> None:
    assert event_date_in(date(1996, 2, 29), 2028) == date(2028, 2, 29)
    assert event_date_in(date(1996, 2, 29), 2028, "mar1") == date(2028, 2, 29)


def test_silence_is_midnight_in_los_angeles() -> None:
    moment = silence_moment(BLACK_JANUARY, 2027, time(12), "Asia/Baku", "feb28")
    assert moment.utc == datetime(2027, 1, 20, 8, 0, tzinfo=UTC)
    la = moment.in_zone("America/Los_Angeles")
    assert (la.date(), la.hour, la.minute) == (date(2027, 1, 20), 0, 0)
    assert moment.in_zone("Australia/Sydney").hour == 19  # AEDT, summer


def test_day_of_in_los_angeles_is_12_hours_after_baku() -> None:
    baku = stage_due(BLACK_JANUARY, 2027, 0, time(8), "Asia/Baku", "feb28")
    la = stage_due(BLACK_JANUARY, 2027, 0, time(8), "America/Los_Angeles", "feb28")
    assert la - baku == timedelta(hours=12)


def test_reminder_is_a_week_before_at_local_ten() -> None:
    due = stage_due(BLACK_JANUARY, 2027, 7, time(10), "Europe/Berlin", "feb28")
    assert due == datetime(2027, 1, 13, 9, 0, tzinfo=UTC)


def test_nonexistent_time_moves_forward_by_the_gap() -> None:
    # 2027-03-14 02:30 does not exist in Los Angeles (clocks jump 02:00 -> 03:00).
    moment = wall_time(date(2027, 3, 14), time(2, 30), ZoneInfo("America/Los_Angeles"))
    local = moment.astimezone(ZoneInfo("America/Los_Angeles"))
    assert (local.hour, local.minute) == (3, 30)


def test_repeated_time_is_the_first_occurrence() -> None:
    # 2027-11-07 01:30 happens twice in Los Angeles; the first is PDT (UTC-7).
    moment = wall_time(date(2027, 11, 7), time(1, 30), ZoneInfo("America/Los_Angeles"))
    assert moment == datetime(2027, 11, 7, 8, 30, tzinfo=UTC)


def test_stage_due_across_spring_forward_keeps_the_wall_clock() -> None:
    # An event on 31 March: the reminder a week before is in CET, the day-of in CEST.
    before = stage_due(date(2000, 3, 31), 2027, 7, time(10), "Europe/Berlin", "feb28")
    day_of = stage_due(date(2000, 3, 31), 2027, 0, time(10), "Europe/Berlin", "feb28")
    assert before.hour == 9 and day_of.hour == 8
    assert day_of - before == timedelta(days=7, hours=-1)


def test_coming_year_turns_after_the_event_day_in_the_events_zone() -> None:
    # 20 January 2027 23:30 in Baku is still the 2027 campaign; a minute after midnight is not.
    assert coming_year(BLACK_JANUARY, "Asia/Baku", datetime(2027, 1, 20, 19, 30, tzinfo=UTC), "feb28") == 2027
    assert coming_year(BLACK_JANUARY, "Asia/Baku", datetime(2027, 1, 20, 20, 1, tzinfo=UTC), "feb28") == 2028
    assert coming_year(BLACK_JANUARY, "Asia/Baku", datetime(2026, 11, 25, tzinfo=UTC), "feb28") == 2027


@given(st.dates(min_value=date(1800, 1, 1), max_value=date(2100, 12, 31)), st.integers(1, 300))
def test_anniversary_number_counts_years(event: date, offset: int) -> None:
    assert anniversary_number(event, event.year + offset) == offset


@given(st.integers(1801, 2400), st.sampled_from(["feb28", "mar1"]))
def test_leap_day_event_is_commemorated_once_every_year_near_the_end_of_february(year: int, rule: str) -> None:
    day = event_date_in(date(1796, 2, 29), year, rule)
    assert day.year == year
    assert day in (date(year, 2, 28), date(year, 3, 1)) or (day.month, day.day) == (2, 29)


@given(
    st.integers(1991, 2100),
    st.sampled_from(ZONES),
    st.sampled_from(ZONES),
    st.times(),
)
def test_silence_is_one_moment_in_every_zone(year: int, zone_a: str, zone_b: str, at: time) -> None:
    moment = silence_moment(BLACK_JANUARY, year, at, "Asia/Baku", "feb28")
    assert moment.in_zone(zone_a) == moment.in_zone(zone_b) == moment.utc


@given(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(1, 80),
    st.integers(0, 30),
    st.times(),
    st.sampled_from(ZONES),
)
def test_stage_due_shows_the_send_time_on_the_local_clock(
    event: date, offset: int, days_before: int, send_time: time, zone: str
) -> None:
    due = stage_due(event, event.year + offset, days_before, send_time, zone, "feb28")
    local = due.astimezone(ZoneInfo(zone))
    expected_day = event_date_in(event, event.year + offset) - timedelta(days=days_before)
    naive = datetime.combine(expected_day, send_time)
    # Equal, except inside a spring-forward gap, where it moves forward by the gap (< 3 h).
    shown = local.replace(tzinfo=None)
    assert timedelta(0) <= shown - naive < timedelta(hours=3)
    if shown != naive:
        assert (
            wall_time(expected_day, send_time, ZoneInfo(zone)).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != naive
        )
