"""`anniversary run-due --now ...`: each subscriber's own local send time, the late
cutoff, idempotence, daylight-saving changes and 29 February."""

from __future__ import annotations

import sqlite3

from conftest import Project


def _ledger(project: Project) -> list[tuple[str, str, str, str | None]]:
    db = sqlite3.connect(project.root / "subscribers.db")
    return db.execute(
        "select s.email, l.stage, l.state, l.reason from ledger l join subscriber s on s.id = l.subscriber_id "
        "order by l.stage, s.email"
    ).fetchall()


def _import(run, project: Project) -> None:
    rows = "baku@example.com,B,az,Asia/Baku\nla@example.com,L,en,America/Los_Angeles\n"
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0


def test_nothing_due_does_nothing(run, project: Project) -> None:
    _import(run, project)
    result = run("run-due", "--now", "2026-12-01T00:00:00Z")
    assert (result.exit_code, result.stdout) == (0, "nothing due\n")
    assert _ledger(project) == []


def test_reminder_goes_at_ten_local_in_each_zone(run, project: Project) -> None:
    _import(run, project)
    assert run("run-due", "--now", "2027-01-13T05:59:00Z").stdout == "nothing due\n"
    assert run("run-due", "--now", "2027-01-13T06:00:00Z").stdout == "black-january 2027 reminder (Asia/Baku): sent 1\n"
    assert [(e, s) for e, s, _, _ in _ledger(project)] == [("baku@example.com", "reminder")]
    # 10:00 in Los Angeles is 18:00 UTC.
    assert run("run-due", "--now", "2027-01-13T17:59:00Z").stdout == "nothing due\n"
    assert (
        run("run-due", "--now", "2027-01-13T18:00:00Z").stdout
        == "black-january 2027 reminder (America/Los_Angeles): sent 1\n"
    )
    assert run("run-due", "--now", "2027-01-13T18:01:00Z").stdout == "nothing due\n"
    assert len(project.emls()) == 2


def test_day_of_reaches_baku_and_los_angeles_four_hours_before_the_one_silence(run, project: Project) -> None:
    """12:00 in Baku is midnight in Los Angeles: the call goes to both at 04:00 UTC,
    08:00 in Baku and 20:00 the evening before in Los Angeles."""
    _import(run, project)
    run("run-due", "--now", "2027-01-13T06:00:00Z")  # Baku's reminder
    run("run-due", "--now", "2027-01-13T18:00:00Z")  # Los Angeles's
    assert run("run-due", "--now", "2027-01-20T03:59:00Z").stdout == "nothing due\n"
    assert (
        run("run-due", "--now", "2027-01-20T04:00:00Z").stdout
        == "black-january 2027 day-of (America/Los_Angeles, Asia/Baku): sent 2\n"
    )
    states = {(e, s): st for e, s, st, _ in _ledger(project)}
    assert set(states.values()) == {"sent"} and len(states) == 4


def test_past_the_late_cutoff_is_skipped_with_why(run, project: Project) -> None:
    _import(run, project)
    # The daemon was down from before the reminder until the day-of: the reminder is not sent late.
    result = run("run-due", "--now", "2027-01-20T04:00:00Z")
    assert result.stdout.splitlines() == [
        "black-january 2027 reminder (Asia/Baku): skipped 1",
        "black-january 2027 reminder (America/Los_Angeles): skipped 1",
        "black-january 2027 day-of (America/Los_Angeles, Asia/Baku): sent 2",
    ]
    rows = {(e, s): (st, why) for e, s, st, why in _ledger(project)}
    assert rows[("baku@example.com", "reminder")] == (
        "skipped",
        "past the late cutoff: due 2027-01-13 10:00 Asia/Baku, not sent by 12 h later",
    )
    assert rows[("la@example.com", "reminder")][0] == "skipped"
    assert len(project.emls()) == 2
    # Idempotent: a second call records nothing new and sends nothing.
    assert run("run-due", "--now", "2027-01-20T04:01:00Z").stdout == "nothing due\n"


def test_within_the_cutoff_a_late_start_still_sends(run, project: Project) -> None:
    _import(run, project)
    assert run("run-due", "--now", "2027-01-13T17:00:00Z").stdout == "black-january 2027 reminder (Asia/Baku): sent 1\n"
    assert [e for e, *_ in _ledger(project)] == ["baku@example.com"]


def test_now_needs_an_offset(run) -> None:
    result = run("run-due", "--now", "2027-01-13T06:00:00")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --now: '2027-01-13T06:00:00' has no UTC offset; add Z or +04:00\n",
    )
    result = run("run-due", "--now", "tomorrow")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --now: not an ISO-8601 date-time: 'tomorrow' (e.g. 2027-01-13T06:00:00Z)\n",
    )


def _second_campaign(project: Project, event_date: str, zone: str = "Europe/Berlin") -> None:
    text = project.config.read_text(encoding="utf-8")
    block = text[text.index("[[campaign]]") :]
    block = (
        block.replace('id = "black-january"', 'id = "second"')
        .replace("event_date = 1990-01-20", f"event_date = {event_date}")
        .replace('timezone = "Asia/Baku"', f'timezone = "{zone}"')
        .replace('title = "Black January"', 'title = "Second"')
    )
    project.config.write_text(text + "\n" + block, encoding="utf-8")


def test_stages_straddle_spring_forward(run, project: Project) -> None:
    # Event on 30 March: the reminder (23 March) is in CET, the day-of (30 March 2027) in CEST.
    _second_campaign(project, "2000-03-30")
    run("subscribers", "import", str(project.write_csv("berlin@example.com,B,en,Europe/Berlin\n")))
    assert run("run-due", "--now", "2027-03-23T08:59:00Z").stdout == "nothing due\n"
    assert run("run-due", "--now", "2027-03-23T09:00:00Z").stdout == "second 2027 reminder (Europe/Berlin): sent 1\n"
    assert run("run-due", "--now", "2027-03-30T05:59:00Z").stdout == "nothing due\n"
    # Four hours before 12:00 CEST, on the first day of summer time.
    assert run("run-due", "--now", "2027-03-30T06:00:00Z").stdout == "second 2027 day-of (Europe/Berlin): sent 1\n"


def test_leap_day_event_in_a_common_year_is_kept_on_28_february(run, project: Project) -> None:
    _second_campaign(project, "1996-02-29")
    run("subscribers", "import", str(project.write_csv("berlin@example.com,B,en,Europe/Berlin\n")))
    # (Black January 2027 and this campaign's reminder were missed long ago: skipped.)
    assert "second 2027 day-of" not in run("run-due", "--now", "2027-02-28T06:59:00Z").stdout
    assert run("run-due", "--now", "2027-02-28T07:00:00Z").stdout == "second 2027 day-of (Europe/Berlin): sent 1\n"
    preview = run("preview", "second", "day-of", "--year", "2027", "--timezone", "Europe/Berlin").stdout
    assert "31st" in preview and "February 28, 2027" in preview
    preview = run("preview", "second", "day-of", "--year", "2028").stdout
    assert "32nd" in preview and "February 29, 2028" in preview


def test_second_send_sends_nothing_new(run, project: Project) -> None:
    _import(run, project)
    assert (
        run("send", "black-january", "reminder", "--year", "2027", "--yes").stdout
        == "black-january 2027 reminder: sent 2\n"
    )
    assert (
        run("send", "black-january", "reminder", "--year", "2027", "--yes").stdout
        == "black-january 2027 reminder: nothing to send\n"
    )
    assert len(project.emls()) == 2


def test_dry_run_writes_nothing(run, project: Project) -> None:
    _import(run, project)
    result = run("send", "black-january", "day-of", "--year", "2027", "--dry-run")
    assert result.stdout == "dry run: black-january 2027 day-of would go to 2 subscriber(s) (az 1, en 1)\n"
    assert project.emls() == [] and _ledger(project) == []


def test_status_shows_done_stages_and_why_entries_were_skipped(run, project: Project) -> None:
    _import(run, project)
    run("run-due", "--now", "2027-01-20T04:00:00Z")
    out = run("status", "--year", "2027").stdout.splitlines()
    assert out[:6] == [
        "black-january 2027: the 37th anniversary",
        "  reminder: done; sent 0, failed 0, skipped 2, unknown 0, not yet 0",
        "    skipped 1: past the late cutoff: due 2027-01-13 10:00 America/Los_Angeles, not sent by 12 h later",
        "    skipped 1: past the late cutoff: due 2027-01-13 10:00 Asia/Baku, not sent by 12 h later",
        "  day-of: done; sent 2, failed 0, skipped 0, unknown 0, not yet 0",
        "plan (per stage and zone; the daemon wakes at each):",
    ]
    assert "DUE NOW" not in "\n".join(out), "a zone already sent is never due"
    day_of = [line for line in out if line.startswith("      ") and "2027-01-20 04:00 UTC" in line]
    assert len(day_of) == 2 and all(" done " in line for line in day_of)


def test_status_of_a_year_shows_that_years_plan(run, project: Project) -> None:
    _import(run, project)
    out = run("status", "--year", "2030").stdout
    assert "black-january 2030: the 40th anniversary" in out
    assert "  black-january 2030 (event zone Asia/Baku" in out and "2030-01-20 04:00 UTC" in out
