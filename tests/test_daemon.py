"""The daemon: SIGTERM during a send, SIGHUP reloads, `plan`.

The SIGTERM test runs the daemon as a real process on the real clock with a campaign
made due 20 minutes ago; the reload tests drive Daemon.tick in-process under
time-machine with the real APScheduler stepped by hand.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner
from daemon_helpers import (
    NotifySocket,
    SteppingScheduler,
    Z,
    add_subscribers,
    campaign_toml,
    daemon_env,
    due_now_campaign,
    ledger,
    project,
    read_outbox,
    start_daemon,
    stepping_daemon,
)

from scheduler.cli import cli


def test_sigterm_during_a_send_finishes_the_batch_in_flight_records_it_and_loses_nothing(tmp_path: Path) -> None:
    config_path, config = project(tmp_path, due_now_campaign(), batch_size=25, claim_size=100)
    emails = add_subscribers(config, {"UTC": 500}, Z("2026-01-01T00:00"))
    notify = NotifySocket(tempfile.mkdtemp(prefix="ntf", dir="/tmp") + "/notify")
    proc = start_daemon(config_path, daemon_env(NOTIFY_SOCKET=notify.address))
    try:
        # The sender reports progress after each recorded batch: stop after the first.
        while not re.search(r"day-of: [1-9]\d* so far", notify.wait_for("STATUS=sending")):
            pass
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    assert proc.returncode == 0, err.decode()
    assert "stopped by signal after the batch in flight" in err.decode()

    rows = ledger(tmp_path / "subscribers.db")
    states = Counter(r[4] for r in rows)
    # Every claim ended sent (nothing left unknown, nothing claimed but unsent), and
    # every sent entry has its .eml: the batch in flight was finished and recorded.
    assert set(states) == {"sent"} and 0 < states["sent"] < len(emails)
    mails = read_outbox(config.outbox_dir)
    assert sorted(m.to for m in mails) == sorted(r[3] for r in rows)

    # The next start catches up the rest; nobody gets a second message.
    rerun = subprocess.run(
        [sys.executable, "-m", "scheduler", "run-due", "--config", str(config_path)],
        env=daemon_env(),
        capture_output=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert Counter(m.to for m in read_outbox(config.outbox_dir)) == dict.fromkeys(emails, 1)


def _due_at(sched: SteppingScheduler) -> set[datetime]:
    return {j.next_run_time for j in sched.get_jobs() if j.id.startswith("due@") and j.next_run_time.year == 2027}


@pytest.mark.parametrize(
    ("breakage", "why"),
    [
        ("config", "invalid TOML"),
        ("unknown-key", "late_cutof_hours: unknown key"),
        ("template", "day-of.txt.j2"),
    ],
)
def test_sighup_with_broken_files_keeps_the_running_config_and_templates_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, breakage: str, why: str
) -> None:
    caplog.set_level(logging.INFO)
    with time_machine.travel(Z("2027-03-20T00:00"), tick=False) as traveller:
        config_path, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 1}, datetime.now(UTC))
        daemon, sched = stepping_daemon(config_path)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()
        before = daemon.config
        if breakage == "config":
            config_path.write_text(config_path.read_text() + "\n[oops\n", encoding="utf-8")
        elif breakage == "unknown-key":
            text = config_path.read_text().replace("late_cutoff_hours = 6", "late_cutof_hours = 6")
            config_path.write_text(text, encoding="utf-8")
        else:
            tpl = tmp_path / "templates/black-january/en/day-of.txt.j2"
            tpl.write_text("{{ anniversary.numbr }}\n", encoding="utf-8")
        daemon.flags.reload = True  # what the SIGHUP handler does
        daemon.tick(datetime.now(UTC))
        assert daemon.config is before
        refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 1 and why in refused[0], refused
        assert "keeping the running config and templates" in refused[0]

        # The old templates (loaded before the edit) still send on the day.
        traveller.move_to(Z("2027-04-04T00:30"))
        sched.step()
    sent = [m for m in read_outbox(config.outbox_dir) if m.stage == "day-of"]
    assert len(sent) == 1 and "numbr" not in sent[0].msg.get_body(("plain",)).get_content()


def test_sighup_with_a_valid_change_replans_to_the_new_send_time(tmp_path: Path) -> None:
    with time_machine.travel(Z("2027-03-20T00:00"), tick=False):
        config_path, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 1}, datetime.now(UTC))
        daemon, sched = stepping_daemon(config_path)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()
        assert _due_at(sched) == {Z("2027-03-28T01:30"), Z("2027-04-04T00:30")}
        text = config_path.read_text().replace(
            "days_before = 0\n  send_time = 02:30:00", "days_before = 0\n  send_time = 09:00:00"
        )
        config_path.write_text(text, encoding="utf-8")
        daemon.flags.reload = True
        daemon.tick(datetime.now(UTC))
        assert daemon.config.get_campaign("spring").get_stage("day-of").send_time.hour == 9
        assert _due_at(sched) == {Z("2027-03-28T01:30"), Z("2027-04-04T07:00")}  # 09:00 CEST


def test_daemon_refuses_to_start_on_a_template_that_does_not_render(tmp_path: Path) -> None:
    config_path, _ = project(tmp_path, due_now_campaign())
    (tmp_path / "templates/black-january/az/day-of.subject.j2").write_text("{{ nope }", encoding="utf-8")
    proc = start_daemon(config_path, daemon_env())
    _, err = proc.communicate(timeout=60)
    lines = err.decode().splitlines()
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "day-of.subject.j2" in lines[0], lines


def test_daemon_with_an_invalid_config_exits_2_with_one_line(tmp_path: Path) -> None:
    config_path, _ = project(tmp_path, due_now_campaign())
    config_path.write_text(config_path.read_text().replace('timezone = "UTC"', 'timezone = "Mars/Olympus"'))
    proc = start_daemon(config_path, daemon_env())
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode().startswith("Error: ") and "campaign[0].timezone" in err.decode()


def test_daemon_without_the_signing_key_exits_2_naming_the_variable(tmp_path: Path) -> None:
    config_path, _ = project(tmp_path, due_now_campaign())
    env = daemon_env()
    del env["ANNIVERSARY_SIGNING_KEY"]
    proc = start_daemon(config_path, env)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode().count("\n")) == (2, 1)
    assert "ANNIVERSARY_SIGNING_KEY is not set" in err.decode()


def test_plan_command_shows_each_stage_and_zone_in_utc_the_event_zone_and_local_time(tmp_path: Path) -> None:
    config_path, config = project(tmp_path, campaign_toml())
    add_subscribers(config, {"Europe/Berlin": 1, "Australia/Sydney": 1}, Z("2027-03-01T00:00"))
    result = CliRunner().invoke(cli, ["plan", "--now", "2027-03-28T00:00:00Z", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "spring 2027 (event zone Asia/Baku, late cutoff 6 h)" in out
    # Sydney's reminder has gone out (past), Berlin's comes at 02:30 wall time = 03:30 CEST.
    assert re.search(r"Australia/Sydney\s+past\s+2027-03-27 15:30 UTC = 2027-03-27 19:30 Asia/Baku = 02:30 AEDT", out)
    assert re.search(r"Europe/Berlin\s+next\s+2027-03-28 01:30 UTC = 2027-03-28 05:30 Asia/Baku = 03:30 CEST", out)
    assert "heads-up: off (organizers.emails is empty)" in out


def test_jobs_set_misfire_grace_and_coalesce_deliberately(tmp_path: Path) -> None:
    with time_machine.travel(Z("2027-03-20T00:00"), tick=False):
        config_path, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 1}, datetime.now(UTC))
        daemon, sched = stepping_daemon(config_path)
        daemon.arm(datetime.now(UTC))
        jobs = {j.id: j for j in sched.get_jobs()}
    due = jobs["due@2027-03-28T01:30:00+00:00"]
    # A due wake still runs until the slot's 6 h cutoff (APScheduler's default of 1 s
    # would drop one missed across a suspend); cutoff wakes and ticks run however late.
    assert (due.misfire_grace_time, due.coalesce) == (6 * 3600, True)
    assert (jobs["cutoff@2027-03-28T07:30:00+00:00"].misfire_grace_time, jobs["safety-tick"].coalesce) == (None, True)
    assert jobs["safety-tick"].trigger.interval.total_seconds() == 60  # at most a one-minute tick


def test_a_wake_delayed_past_its_due_time_but_inside_the_cutoff_still_sends(tmp_path: Path) -> None:
    with time_machine.travel(Z("2027-03-20T00:00"), tick=False) as traveller:
        config_path, config = project(tmp_path, campaign_toml())
        add_subscribers(config, {"Europe/Berlin": 1, "America/Los_Angeles": 1}, datetime.now(UTC))
        daemon, sched = stepping_daemon(config_path)
        daemon.arm(datetime.now(UTC))
        sched.start()
        sched.step()
        # The machine slept through Berlin's 01:30 UTC reminder and wakes at 05:00 UTC,
        # then through LA's 09:30 UTC reminder until after its 15:30 UTC cutoff.
        traveller.move_to(Z("2027-03-28T05:00"))
        sched.step()
        traveller.move_to(Z("2027-03-28T16:00"))
        sched.step()
    assert [(m.to, m.date) for m in read_outbox(config.outbox_dir)] == [
        ("europe-berlin-0@example.com", Z("2027-03-28T05:00"))
    ]
    rows = {r[3]: (r[4], r[5]) for r in ledger(tmp_path / "subscribers.db")}
    assert rows["america-los_angeles-0@example.com"][0] == "skipped"
    assert (
        "past the late cutoff: due 2027-03-28 02:30 America/Los_Angeles" in rows["america-los_angeles-0@example.com"][1]
    )
