"""Time travel through whole campaign seasons with time-machine.

The daemon runs on a real APScheduler (stepped by hand instead of sleeping) whose jobs
read the travelled clock, over a real SQLite file and the outbox transport. The spring
campaign is built to sit on daylight-saving changes: its reminder is due at 02:30 on
Sunday 28 March 2027, the hour Europe/Berlin skips (CET -> CEST at 01:00 UTC), and its
day-of at 02:30 on Sunday 4 April 2027, which Australia/Sydney lives twice (AEDT -> AEST
at 16:00 UTC on the 3rd). Expected moments are written out by hand, not recomputed.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from daemon_helpers import (
    SEASON_ZONES,
    SteppingScheduler,
    Z,
    add_subscribers,
    campaign_toml,
    ledger,
    project,
    read_outbox,
    stepping_daemon,
)

# When each zone's clocks show 02:30 on the stage's day, in UTC, worked out by hand.
EXPECTED = {
    ("reminder", "Pacific/Kiritimati"): Z("2027-03-27T12:30"),  # UTC+14
    ("reminder", "Australia/Sydney"): Z("2027-03-27T15:30"),  # AEDT, UTC+11
    ("reminder", "Asia/Baku"): Z("2027-03-27T22:30"),  # UTC+4, no DST
    # 02:30 does not exist in Berlin that night; it moves forward by the gap to 03:30
    # CEST, which is 01:30 UTC (the rule documented in anniversary.wall_time).
    ("reminder", "Europe/Berlin"): Z("2027-03-28T01:30"),
    ("reminder", "America/Los_Angeles"): Z("2027-03-28T09:30"),  # PDT since 14 March
    ("day-of", "Pacific/Kiritimati"): Z("2027-04-03T12:30"),
    # 02:30 happens twice in Sydney; the first one (still AEDT, UTC+11) is meant.
    ("day-of", "Australia/Sydney"): Z("2027-04-03T15:30"),
    ("day-of", "Asia/Baku"): Z("2027-04-03T22:30"),
    ("day-of", "Europe/Berlin"): Z("2027-04-04T00:30"),  # CEST now, UTC+2
    ("day-of", "America/Los_Angeles"): Z("2027-04-04T09:30"),
}
CUTOFF = timedelta(hours=6)


def _run_season(traveller: time_machine.Coordinates, sched: SteppingScheduler, until: datetime) -> list[datetime]:
    """Start the scheduler, then jump from one armed wake to the next, as BlockingScheduler
    would after sleeping; returns the moments it woke."""
    sched.start()
    sched.step()  # the catch-up wake queued by arm()
    woke = []
    while (nxt := sched.next_planned()) is not None and nxt < until:
        traveller.move_to(nxt)
        sched.step()
        woke.append(nxt)
    return woke


def test_season_across_dst_changes_sends_each_stage_once_at_each_zones_local_time(tmp_path: Path) -> None:
    start = Z("2027-03-01T00:00")
    with time_machine.travel(start, tick=False) as traveller:
        _, config = project(tmp_path, campaign_toml())
        emails = add_subscribers(config, {z: 2 for z in SEASON_ZONES}, start)
        daemon, sched = stepping_daemon(config)
        daemon.arm(datetime.now(UTC))
        woke = _run_season(traveller, sched, Z("2027-04-10T00:00"))

    # It woke exactly at each slot's due time and cutoff, and at nothing else.
    expected_wakes = sorted({t for t in EXPECTED.values()} | {t + CUTOFF for t in EXPECTED.values()})
    assert woke == expected_wakes

    mails = read_outbox(config.outbox_dir)
    assert Counter((m.to, m.stage) for m in mails) == {(e, s): 1 for e in emails for s in ("reminder", "day-of")}
    for m in mails:
        zone = next(z for z in SEASON_ZONES if m.to.startswith(z.replace("/", "-").lower()))
        # Sent at the moment the zone's wall clock reached 02:30, neither before nor late.
        assert m.date == EXPECTED[(m.stage, zone)], (m.to, m.stage)
    rows = ledger(tmp_path / "subscribers.db")
    assert len(rows) == 20 and {r[4] for r in rows} == {"sent"}


def test_season_daemon_started_after_a_missed_send_catches_up_within_the_cutoff(tmp_path: Path) -> None:
    # Down from before Berlin's reminder (01:30 UTC) until 03:30 UTC: 2 h late, cutoff 6 h.
    with time_machine.travel(Z("2027-03-01T00:00"), tick=False) as traveller:
        _, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 3, "America/Los_Angeles": 1}, datetime.now(UTC))
        traveller.move_to(Z("2027-03-28T03:30"))
        daemon, sched = stepping_daemon(config)
        daemon.arm(datetime.now(UTC))
        _run_season(traveller, sched, Z("2027-03-29T00:00"))

    reminders = {m.to: m.date for m in read_outbox(config.outbox_dir) if m.stage == "reminder"}
    berlin = {to: at for to, at in reminders.items() if to.startswith("europe-berlin")}
    assert len(berlin) == 3 and set(berlin.values()) == {Z("2027-03-28T03:30")}  # at start
    assert reminders["america-los_angeles-0@example.com"] == Z("2027-03-28T09:30")  # on time


def test_season_daemon_started_past_the_late_cutoff_sends_nothing_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with time_machine.travel(Z("2027-03-01T00:00"), tick=False) as traveller:
        _, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 2}, datetime.now(UTC))
        # Berlin's reminder was due 01:30 UTC, cutoff 07:30 UTC; the daemon starts 08:30.
        traveller.move_to(Z("2027-03-28T08:30"))
        daemon, sched = stepping_daemon(config)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()

    assert read_outbox(config.outbox_dir) == []
    rows = ledger(tmp_path / "subscribers.db")
    assert [(r[2], r[4]) for r in rows] == [("reminder", "skipped"), ("reminder", "skipped")]
    assert all("past the late cutoff" in r[5] for r in rows)
    said = [r.getMessage() for r in caplog.records]
    assert any("2 subscriber(s) in Europe/Berlin skipped: past the late cutoff" in s for s in said), said
    assert any(s.startswith("catch-up on start: spring 2027 reminder (Europe/Berlin): skipped 2") for s in said), said


def test_season_replans_when_a_new_subscriber_zone_appears(tmp_path: Path) -> None:
    with time_machine.travel(Z("2027-03-20T00:00"), tick=False) as traveller:
        _, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 1}, datetime.now(UTC))
        daemon, sched = stepping_daemon(config)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()
        armed = {j.next_run_time for j in sched.get_jobs() if j.id.startswith("due@") and j.next_run_time.year == 2027}
        assert armed == {Z("2027-03-28T01:30"), Z("2027-04-04T00:30")}

        add_subscribers(config, {"Pacific/Kiritimati": 1}, datetime.now(UTC))
        traveller.shift(timedelta(minutes=1))
        sched.step()  # the safety tick notices the new zone
        armed = {j.next_run_time for j in sched.get_jobs() if j.id.startswith("due@") and j.next_run_time.year == 2027}
        assert Z("2027-03-27T12:30") in armed and Z("2027-04-03T12:30") in armed

        traveller.move_to(Z("2027-03-27T12:30"))
        sched.step()
    assert [m.to for m in read_outbox(config.outbox_dir)] == ["pacific-kiritimati-0@example.com"]
