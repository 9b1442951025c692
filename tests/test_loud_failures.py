"""Failures are loud: exit codes that cron and systemd understand, a server that cannot
be reached stops the run and gives its claims back, and `status` says why."""

from __future__ import annotations

import sqlite3

from conftest import Project


def test_a_run_where_messages_failed_exits_1_and_status_says_why(run, project: Project) -> None:
    run("subscribers", "add", "a@example.com", "--timezone", "Asia/Baku")
    run("subscribers", "add", "b@example.com", "--timezone", "Asia/Baku")
    # The outbox folder is a file: every message fails alone, with the reason.
    (project.root / "outbox").write_text("not a folder")
    result = run("run-due", "--now", "2027-01-13T06:00:00Z")
    assert result.exit_code == 1
    assert result.stdout == "black-january 2027 reminder (Asia/Baku): failed 2\n"
    status = run("status", "--year", "2027").stdout.splitlines()
    failed = [line for line in status if line.startswith("    failed ")]
    assert len(failed) == 1 and failed[0] == f"    failed 2: cannot write to outbox {project.outbox}: Not a directory"
    assert (
        "    to resend the failed ones once the cause is fixed: "
        "anniversary resend black-january reminder --year 2027 --state failed"
    ) in status


def test_an_unreachable_server_stops_the_run_exit_3_and_keeps_everyone_eligible(run, project: Project) -> None:
    project.edit_config('kind = "outbox"', 'kind = "smtp"')
    project.edit_config(
        'outbox_dir = "outbox"',
        'outbox_dir = "outbox"\n\n[transport.smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\nmax_retries = 1',
    )
    for i in range(3):
        run("subscribers", "add", f"p{i}@example.com", "--timezone", "Asia/Baku")
    result = run("send", "black-january", "reminder", "--year", "2026")
    assert result.exit_code == 3
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert "cannot connect to SMTP server 127.0.0.1:9" in line and "stopped, nothing more was sent" in line
    db = sqlite3.connect(project.root / "subscribers.db")
    assert db.execute("select count(*) from ledger").fetchone()[0] == 0, "claims given back, nobody failed"
    assert "not yet 3" in run("status", "--year", "2026").stdout


def test_a_clean_run_exits_0(run, project: Project) -> None:
    run("subscribers", "add", "a@example.com", "--timezone", "Asia/Baku")
    assert run("run-due", "--now", "2027-01-13T06:00:00Z").exit_code == 0
    assert run("run-due", "--now", "2027-01-13T06:01:00Z").exit_code == 0  # nothing due


def test_years_out_of_range_are_one_line_exit_2(run) -> None:
    for year in ("10000", "20277"):
        result = run("status", "--year", year)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == f"Error: year {year} is out of range: years run from 1991 to 9999\n"
    result = run("preview", "black-january", "day-of", "--year", "9999")
    assert result.exit_code == 0 and "the 8,009th anniversary" in result.stdout
