"""Nobody is mailed by accident: the demo keeps to its own folder, a pretend clock never
reaches a real inbox, and sending a stage early asks first."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import SIGNING_KEY, Project

SMTP_CLOSED_PORT = '\n[transport.smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\nmax_retries = 0\n'


def _use_smtp(project: Project) -> None:
    project.edit_config('kind = "outbox"', 'kind = "smtp"')
    project.edit_config('outbox_dir = "outbox"', 'outbox_dir = "outbox"\n' + SMTP_CLOSED_PORT)


def test_demo_uses_its_own_folder_and_the_outbox_whatever_the_config_says(run, project: Project) -> None:
    _use_smtp(project)
    project.edit_config('url = "sqlite:///subscribers.db"', 'url = "sqlite:///real-subscribers.db"')
    result = run("demo")
    assert result.exit_code == 0, result.stderr
    assert not (project.root / "real-subscribers.db").exists(), "the configured database is never touched"
    demo = project.root / "demo"
    assert f"messages are in {demo / 'outbox'}\n" in result.stdout
    assert f"demo database: {demo / 'subscribers.db'}\n" in result.stdout
    assert len(list((demo / "outbox").rglob("*.eml"))) == 16
    # Run again: it starts afresh rather than piling up.
    assert run("demo").exit_code == 0 and len(list((demo / "outbox").rglob("*.eml"))) == 16


def test_demo_sample_addresses_use_only_reserved_domains() -> None:
    # RFC 2606 reserves example.com, example.org and example.net; example.de is real.
    path = Path(__file__).resolve().parents[1] / "examples" / "subscribers.csv"
    with path.open(encoding="utf-8") as fh:
        domains = {row["email"].rsplit("@", 1)[1] for row in csv.DictReader(fh)}
    assert domains <= {"example.com", "example.org", "example.net"}, domains


def test_a_pretend_clock_is_refused_for_a_real_transport_before_any_connection(run, project: Project) -> None:
    _use_smtp(project)
    run("subscribers", "add", "a@example.com", "--timezone", "Asia/Baku")
    result = run("run-due", "--now", "2027-01-20T04:00:00Z")
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: --now 2027-01-20 04:00 UTC is ") and "from the real clock" in line
    assert "transport.kind is 'smtp': a pretend clock sends only through the outbox" in line
    assert line.endswith("add --force-clock to send to real inboxes")
    # With --force-clock it really tries: the closed port stops the run (exit 3).
    forced = run("run-due", "--now", "2027-01-20T04:00:00Z", "--force-clock")
    assert forced.exit_code == 3 and "cannot connect to SMTP server 127.0.0.1:9" in forced.stderr


def test_a_pretend_clock_through_the_outbox_is_recorded_beside_the_real_time(run, project: Project) -> None:
    run("subscribers", "add", "a@example.com", "--timezone", "Asia/Baku")
    assert run("run-due", "--now", "2027-01-20T04:00:00Z").exit_code == 0
    last = [ln for ln in run("status").stdout.splitlines() if "last run:" in ln]
    (line,) = last
    assert "last run: run-due at 2027" not in line, "never a last run in the future"
    assert "as of --now 2027-01-20 04:00 UTC: " in line and "black-january 2027 day-of (Asia/Baku): sent 1" in line


def test_run_due_dry_run_says_what_it_would_do_per_stage_and_zone_and_writes_nothing(run, project: Project) -> None:
    rows = "a@example.com,A,en,Asia/Baku\nb@example.com,B,en,America/Los_Angeles\nc@example.com,C,en,Asia/Baku\n"
    run("subscribers", "import", str(project.write_csv(rows)))
    result = run("run-due", "--now", "2027-01-20T04:00:00Z", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "would skip black-january 2027 reminder in Asia/Baku: 2 subscriber(s); "
        "past the late cutoff: due 2027-01-13 10:00 Asia/Baku, not sent by 12 h later",
        "would skip black-january 2027 reminder in America/Los_Angeles: 1 subscriber(s); "
        "past the late cutoff: due 2027-01-13 10:00 America/Los_Angeles, not sent by 12 h later",
        "would send black-january 2027 day-of in America/Los_Angeles: 1 subscriber(s); due 2027-01-20 04:00 UTC",
        "would send black-january 2027 day-of in Asia/Baku: 2 subscriber(s); due 2027-01-20 04:00 UTC",
    ]
    db = sqlite3.connect(project.root / "subscribers.db")
    assert db.execute("select count(*) from ledger").fetchone()[0] == 0
    assert db.execute("select count(*) from run").fetchone()[0] == 0
    assert project.emls() == []


def test_sending_a_stage_days_early_needs_yes_off_a_terminal(run, project: Project) -> None:
    run("subscribers", "add", "a@example.com", "--timezone", "Asia/Baku")
    result = run("send", "black-january", "day-of", "--year", "2027")
    assert result.exit_code == 2 and project.emls() == []
    assert result.stderr == (
        "Error: black-january 2027 day-of is not due until 2027-01-20 04:00 UTC; add --yes to send it now anyway\n"
    )
    assert run("send", "black-january", "day-of", "--year", "2027", "--yes").exit_code == 0
    assert len(project.emls()) == 1


def test_yes_is_accepted_when_no_question_is_needed(run, project: Project) -> None:
    run("subscribers", "add", "a@example.com", "--timezone", "Asia/Baku")
    # The 2026 stages are long past: nothing to confirm, --yes changes nothing.
    plain = run("send", "black-january", "reminder", "--year", "2026")
    assert plain.exit_code == 0 and plain.stdout == "black-january 2026 reminder: sent 1\n"
    again = run("send", "black-january", "reminder", "--year", "2026", "--yes")
    assert again.exit_code == 0 and again.stdout == "black-january 2026 reminder: nothing to send\n"


def test_sending_early_on_a_terminal_asks_first(project: Project) -> None:
    """A real terminal: the question, and "n" sends nothing."""
    import os
    import pty

    env = dict(os.environ, ANNIVERSARY_SIGNING_KEY=SIGNING_KEY)
    subprocess.run(
        [sys.executable, "-m", "scheduler", "subscribers", "add", "a@example.com", "--timezone", "Asia/Baku",
         "--config", str(project.config)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "send", "black-january", "day-of", "--year", "2027",
         "--config", str(project.config)],
        env=env, stdin=secondary, stdout=secondary, stderr=secondary,
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    while b"[y/N]" not in seen:
        chunk = os.read(primary, 1024)
        assert chunk, seen
        seen += chunk
    os.write(primary, b"n\n")
    assert proc.wait(timeout=60) == 1
    os.close(primary)
    assert b"is not due until 2027-01-20 04:00 UTC. Send it now to every active subscriber?" in seen
    assert project.emls() == []
