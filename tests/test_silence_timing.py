"""The call for the minute of silence arrives before the moment, everywhere: stages timed
from the silence, quiet hours on each subscriber's clock, holds and skips on catch-up,
across daylight-saving changes and 29 February."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import Project

from scheduler.core.dates import wall_time
from scheduler.core.timing import QuietHours, parse_duration, silence_send_time

CITIES = {
    # zone: (the send moment in UTC, on the local clock)
    "Asia/Baku": ("2027-01-20 04:00", "2027-01-20 08:00"),
    "Europe/Berlin": ("2027-01-20 06:00", "2027-01-20 07:00"),
    "America/Los_Angeles": ("2027-01-20 04:00", "2027-01-19 20:00"),
    "Pacific/Honolulu": ("2027-01-20 04:00", "2027-01-19 18:00"),
    "Australia/Sydney": ("2027-01-20 04:00", "2027-01-20 15:00"),
    "America/New_York": ("2027-01-20 03:00", "2027-01-19 22:00"),
}


def _subscribe(run, project: Project, zones: list[str]) -> None:
    rows = "".join(f"p{i}@example.com,P{i},en,{zone}\n" for i, zone in enumerate(zones))
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0


def _ledger(project: Project) -> list[tuple[str, str, str, str | None]]:
    db = sqlite3.connect(project.root / "subscribers.db")
    try:
        return db.execute(
            "select s.timezone, l.stage, l.state, l.reason from ledger l join subscriber s on s.id = l.subscriber_id "
            "order by l.stage, s.timezone"
        ).fetchall()
    finally:
        db.close()


def test_the_shipped_day_of_reaches_every_city_before_its_silence_and_out_of_quiet_hours(run, project) -> None:
    _subscribe(run, project, list(CITIES))
    plan = run("plan", "--now", "2027-01-10T00:00:00Z").stdout
    for zone, (utc, local) in CITIES.items():
        (line,) = [ln for ln in plan.splitlines() if ln.strip().startswith(zone) and "2027-01-2" in ln and "next" in ln]
        assert f"next    {utc} UTC" in line and f"= {local[-5:]} " in line, line
        moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
        assert moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") == local


def test_run_due_sends_each_zone_at_its_own_moment(run, project: Project) -> None:
    _subscribe(run, project, list(CITIES))
    run("run-due", "--now", "2027-01-13T23:59:00Z")  # the reminders, all past by now or skipped
    assert run("run-due", "--now", "2027-01-20T02:59:00Z").stdout == "nothing due\n"
    assert (
        run("run-due", "--now", "2027-01-20T03:00:00Z").stdout
        == "black-january 2027 day-of (America/New_York): sent 1\n"
    )
    assert run("run-due", "--now", "2027-01-20T04:00:00Z").stdout == (
        "black-january 2027 day-of (America/Los_Angeles, Asia/Baku, Australia/Sydney, Pacific/Honolulu): sent 4\n"
    )
    assert run("run-due", "--now", "2027-01-20T05:59:00Z").stdout == "nothing due\n"
    assert (
        run("run-due", "--now", "2027-01-20T06:00:00Z").stdout == "black-january 2027 day-of (Europe/Berlin): sent 1\n"
    )
    day_of = [row for row in _ledger(project) if row[1] == "day-of"]
    assert {state for _, _, state, _ in day_of} == {"sent"} and len(day_of) == 6


def test_a_run_after_the_silence_skips_it_saying_the_moment_had_passed(run, project: Project) -> None:
    _subscribe(run, project, ["America/Los_Angeles"])
    # The machine was off through the evening: it is 00:01 in Los Angeles, the silence was at 00:00.
    out = run("run-due", "--now", "2027-01-20T08:01:00Z").stdout
    assert "black-january 2027 day-of (America/Los_Angeles): skipped 1" in out
    (row,) = [r for r in _ledger(project) if r[1] == "day-of"]
    assert row[2:] == ("skipped", "the minute of silence had passed (2027-01-20 00:00 America/Los_Angeles)")
    assert not list(project.outbox.rglob("day-of/*.eml"))


def test_a_catch_up_in_quiet_hours_that_end_after_the_silence_is_skipped(run, project: Project) -> None:
    _subscribe(run, project, ["America/New_York"])
    # New York's call was due at 22:00; a run at 23:30 is in quiet hours, which end at
    # 07:00, after the 03:00 silence: it is not sent in the night, nor after the moment.
    out = run("run-due", "--now", "2027-01-20T04:30:00Z").stdout
    assert "day-of (America/New_York): skipped 1" in out
    (row,) = [r for r in _ledger(project) if r[1] == "day-of"]
    assert row[3] == "quiet hours in America/New_York last past the minute of silence (2027-01-20 03:00)"


def test_a_catch_up_in_quiet_hours_is_held_until_they_end(run, project: Project) -> None:
    project.edit_config('send_before_silence = "4h"', 'send_before_silence = "12h"')
    _subscribe(run, project, ["Europe/Berlin"])
    run("run-due", "--now", "2027-01-13T23:59:00Z")
    # Due at 21:00 on the 19th in Berlin (12 hours before 09:00); the run at 22:30 holds it.
    assert run("run-due", "--now", "2027-01-19T21:30:00Z").stdout == "nothing due\n"
    assert run("run-due", "--now", "2027-01-20T05:59:00Z").stdout == "nothing due\n"
    assert (
        run("run-due", "--now", "2027-01-20T06:00:00Z").stdout == "black-january 2027 day-of (Europe/Berlin): sent 1\n"
    )


def test_a_run_at_the_planned_moment_sends_even_when_it_is_the_start_of_quiet_hours(run, project: Project) -> None:
    _subscribe(run, project, ["America/New_York"])
    # 22:00 in New York, the last moment before quiet hours, is when its call was planned.
    out = run("run-due", "--now", "2027-01-20T03:00:30Z").stdout
    assert out.endswith("black-january 2027 day-of (America/New_York): sent 1\n"), out


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            'send_before_silence = "4h"',
            'send_before_silence = "4h"\n  days_before = 1',
            "campaign[0].stage[1]: days_before must be 0 beside send_before_silence: the silence is on the event's day (got 1)",
        ),
        (
            'send_before_silence = "4h"',
            'send_before_silence = "4h"\n  send_time = 08:00:00',
            "campaign[0].stage[1]: needs exactly one of send_time (a wall-clock time) or send_before_silence",
        ),
        (
            'send_before_silence = "4h"',
            'send_before_silence = "four hours"',
            "campaign[0].stage[1].send_before_silence: must be a duration such as 4h, 90m or 1h30m (got 'four hours')",
        ),
        (
            'quiet_hours = ["22:00", "07:00"]',
            'quiet_hours = ["22:00"]',
            "campaign[0].quiet_hours",
        ),
    ],
)
def test_silence_timing_mistakes_are_one_line_exit_2(run, project: Project, old: str, new: str, needle: str) -> None:
    project.edit_config(old, new)
    result = run("status")
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: {project.config}: ") and needle in line, line


def test_send_time_stages_ignore_quiet_hours(run, project: Project) -> None:
    # The reminder is at 10:00 local; quiet hours 09:00-11:00 apply to silence-timed stages only.
    project.edit_config('quiet_hours = ["22:00", "07:00"]', 'quiet_hours = ["09:00", "11:00"]')
    _subscribe(run, project, ["Asia/Baku"])
    assert run("run-due", "--now", "2027-01-13T06:00:00Z").stdout == "black-january 2027 reminder (Asia/Baku): sent 1\n"


# -- the pure rule, across daylight-saving changes ------------------------------------

QUIET = QuietHours(time(22), time(7))


def _silence(zone: str, day: date, at: time) -> datetime:
    return wall_time(day, at, ZoneInfo(zone))


def test_quiet_hours_ending_in_a_spring_forward_gap_end_an_hour_later() -> None:
    # New York springs forward at 02:00 on 14 March 2027: 02:30 does not happen and, as
    # everywhere in this package, becomes 03:30 EDT.
    zone = "America/New_York"
    quiet = QuietHours(time(22), time(2, 30))
    silence = _silence(zone, date(2027, 3, 14), time(9))
    moment = silence_send_time(silence, zone, timedelta(hours=8), quiet, timedelta(hours=1))
    assert moment.astimezone(ZoneInfo(zone)).strftime("%H:%M %Z") == "03:30 EDT"


def test_quiet_hours_across_fall_back_end_at_the_first_seven() -> None:
    zone = "Europe/Berlin"  # clocks go back at 03:00 on 31 October 2027
    silence = _silence(zone, date(2027, 10, 31), time(9))
    moment = silence_send_time(silence, zone, timedelta(hours=5), QUIET, timedelta(hours=1))
    assert moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") == "2027-10-31 07:00 CET"
    assert silence - moment == timedelta(hours=2)


def test_too_little_lead_after_quiet_hours_sends_the_evening_before() -> None:
    zone = "Asia/Baku"
    silence = _silence(zone, date(2027, 1, 20), time(7, 30))
    moment = silence_send_time(silence, zone, timedelta(hours=4), QUIET, timedelta(hours=1))
    assert moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") == "2027-01-19 22:00"


def test_leap_day_event_silence_timing_in_a_common_year(run, project: Project) -> None:
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(text.replace("event_date = 1990-01-20", "event_date = 1992-02-29"), encoding="utf-8")
    _subscribe(run, project, ["Asia/Baku"])
    plan = run("plan", "--now", "2027-02-01T00:00:00Z").stdout
    assert "2027-02-28 04:00 UTC" in plan  # kept on 28 February, 4 hours before 12:00 in Baku
    plan = run("plan", "--now", "2028-02-01T00:00:00Z").stdout
    assert "2028-02-29 04:00 UTC" in plan


@pytest.mark.parametrize(("text", "minutes"), [("4h", 240), ("90m", 90), ("1h30m", 90), ("2 h 5 min", 125)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)
