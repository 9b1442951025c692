"""The edges a user meets around the database and the disk: a secret checked only after
an empty database was made, a PostgreSQL password, a database file that is damaged,
empty, read-only or locked by another process, an outbox on a full or read-only disk.
Each is one clear line and an exit code, and nothing is half-done. (config.toml's own
edges are in test_config.py.)

Driven through the command line as a user does, on real SQLite files, real processes
holding real locks and, where root may mount one, a real tmpfs that fills up."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Project
from sqlalchemy.engine import make_url

DB_LINE = 'url = "sqlite:///subscribers.db"        # relative paths resolve against this file\'s folder'
PG_PASSWORD = "pg-secret-Zq81-never-shown"


def db(project: Project) -> Path:
    return project.root / "subscribers.db"


def only_error_lines(stderr: str) -> list[str]:
    """The Error: lines (a send also logs progress on stderr when it is not a terminal)."""
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def import_people(run, project: Project, n: int) -> None:
    rows = "".join(f"p{i}@example.com,P {i},en,UTC\n" for i in range(n))
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0


# -- secrets before the database ---------------------------------------------------------


@pytest.mark.parametrize(
    ("transport", "variable", "key"),
    [
        ('kind = "sendgrid"', "SENDGRID_API_KEY", "transport.sendgrid.api_key_env"),
        (
            'kind = "smtp"\noutbox_dir = "outbox"\n[transport.smtp]\nhost = "smtp.example.org"\nusername = "mailer"',
            "SMTP_PASSWORD",
            "transport.smtp.password_env",
        ),
        ('kind = "outbox"', "ANNIVERSARY_SIGNING_KEY", "sender.signing_key_env"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        ("send", "black-january", "reminder", "--year", "2027", "--yes"),
        ("run-due",),
        ("resend", "black-january", "reminder", "--year", "2027", "--state", "failed"),
        ("heads-up", "black-january"),
    ],
)
def test_a_missing_secret_stops_a_command_before_the_database_is_created(
    run, project: Project, monkeypatch: pytest.MonkeyPatch, transport: str, variable: str, key: str, command
) -> None:
    project.edit_config('kind = "outbox"              # outbox | smtp | sendgrid\noutbox_dir = "outbox"', transport)
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.delenv(variable, raising=False)
    result = run(*command)
    assert result.exit_code == 2
    assert result.stderr == f"Error: environment variable {variable} is not set (named by {key} in config.toml)\n"
    assert not db(project).exists()


def test_a_missing_secret_stops_the_daemon_before_the_database_is_created(
    run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.edit_config('kind = "outbox"', 'kind = "sendgrid"')
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    result = run("daemon")
    assert result.exit_code == 2
    assert "SENDGRID_API_KEY is not set" in result.stderr
    assert not db(project).exists()


# -- PostgreSQL's password ---------------------------------------------------------------

PG_CONFIG = 'url = "postgresql+psycopg://anniv@127.0.0.1:1/anniv"\npassword_env = "ANNIVERSARY_DATABASE_PASSWORD"'


def test_a_missing_postgresql_password_is_named_before_connecting(run, project: Project) -> None:
    project.edit_config(DB_LINE, PG_CONFIG)
    result = run("subscribers", "count")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: environment variable ANNIVERSARY_DATABASE_PASSWORD is not set "
        "(named by database.password_env in config.toml)\n",
    )


def test_the_postgresql_password_never_reaches_an_error_line(
    run, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.edit_config(DB_LINE, PG_CONFIG)  # port 1: nothing listens, the connection is refused
    monkeypatch.setenv("ANNIVERSARY_DATABASE_PASSWORD", PG_PASSWORD)
    result = run("subscribers", "count")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: cannot open database postgresql+psycopg://anniv:***@127.0.0.1:1/anniv: ")
    assert PG_PASSWORD not in result.stdout + result.stderr


def test_a_password_written_in_database_url_is_warned_about_and_never_shown(run, project: Project) -> None:
    project.edit_config(DB_LINE, f'url = "postgresql+psycopg://anniv:{PG_PASSWORD}@127.0.0.1:1/anniv"')
    result = run("subscribers", "count")
    assert f"{project.config}: database.url holds a password; name an environment variable" in result.stderr
    assert PG_PASSWORD not in result.stdout + result.stderr


def test_password_env_against_a_real_postgresql_server(project: Project, run, monkeypatch: pytest.MonkeyPatch) -> None:
    url = os.environ.get("ANNIVERSARY_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("ANNIVERSARY_TEST_POSTGRES_URL is not set: no PostgreSQL server to connect to")
    project.edit_config(DB_LINE, f'url = "{url}"\npassword_env = "ANNIVERSARY_DATABASE_PASSWORD"')
    monkeypatch.setenv("ANNIVERSARY_DATABASE_PASSWORD", make_url(url).password or PG_PASSWORD)
    result = run("subscribers", "count")
    assert result.exit_code == 0, result.stderr
    assert PG_PASSWORD not in result.stdout + result.stderr


# -- the database file ---------------------------------------------------------------------


def _settled(path: Path) -> Path:
    """The database as one file: the earlier commands' connections closed (they ran in
    this process), the write-ahead log copied back and removed."""
    gc.collect()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return path


def _damage_pages(path: Path) -> None:
    """Overwrite the subscriber and ledger tables' root pages, keeping the header and
    the schema readable: the file opens, and the first real read fails."""
    with sqlite3.connect(_settled(path)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'").fetchall())
    conn.close()
    with path.open("r+b") as fh:
        for table in ("subscriber", "ledger"):
            fh.seek((roots[table] - 1) * size)
            fh.write(b"\xa5" * size)


def _not_a_database(path: Path) -> None:
    _settled(path).write_bytes(b"not a database, honest " * 400)


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_damage_pages, "database disk image is malformed"),
        (_not_a_database, "file is not a database"),
    ],
)
def test_a_damaged_database_is_one_line_and_exit_1(run, project: Project, damage, why: str) -> None:
    import_people(run, project, 3)
    damage(db(project))
    result = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1:] == only_error_lines(result.stderr)
    assert only_error_lines(result.stderr) == [
        f"Error: database {db(project)} is damaged or not a database: {why}; restore it from a backup"
    ]


def test_a_0_byte_database_is_refused_not_started_afresh(run, project: Project) -> None:
    db(project).touch()
    result = run("subscribers", "count")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: database {db(project)} is an empty file (0 bytes), not a database: most likely a copy or "
        "restore that failed. Put the real file back; to start a new, empty database instead, delete this one\n"
    )
    assert db(project).stat().st_size == 0
    assert run("db", "upgrade").stderr == result.stderr


@contextmanager
def mounted_tmpfs(folder: Path, options: str) -> Iterator[None]:
    """A real, small file system at ``folder``: mounting one needs root (and a kernel
    that lets this container mount); otherwise the test says why it skipped."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield
    finally:
        gc.collect()  # a SQLite connection a failed command left for the collector
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(folder)], check=True)


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True, capture_output=True)


def test_a_read_only_database_is_one_line_and_exit_1(run, project: Project) -> None:
    import_people(run, project, 3)
    if os.geteuid() != 0:
        # Write permission is what a user lacks; root has it everywhere but on a read-only mount.
        db(project).chmod(0o444)
        result = run("send", "black-january", "reminder", "--year", "2027", "--yes")
        where = db(project)
    else:
        folder = project.root / "ro"
        with mounted_tmpfs(folder, "size=4m"):
            (folder / "subscribers.db").write_bytes(db(project).read_bytes())
            remount(folder, "ro")
            project.edit_config(DB_LINE, 'url = "sqlite:///ro/subscribers.db"')
            result = run("send", "black-january", "reminder", "--year", "2027", "--yes")
            where = folder / "subscribers.db"
    assert result.exit_code == 1
    (line,) = only_error_lines(result.stderr)
    assert line.startswith(f"Error: cannot write to database {where}: read-only ")
    assert line.endswith("; SQLite writes the database, the -wal and -shm files beside it and their folder")
    assert "Traceback" not in result.stderr


# -- another process's lock ---------------------------------------------------------------


@contextmanager
def writer_holding_the_lock(path: Path) -> Iterator[None]:
    """Another process inside a SQLite write transaction, as a send is between its claims."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


def test_read_only_commands_answer_while_a_writer_holds_the_lock(run, project: Project) -> None:
    import_people(run, project, 3)
    with writer_holding_the_lock(db(project)):
        started = time.monotonic()
        count = run("subscribers", "count")
        status = run("status")
        took = time.monotonic() - started
    assert (count.exit_code, count.stderr, count.stdout.splitlines()[-1]) == (0, "", "total\t3")
    assert (status.exit_code, status.stderr) == (0, "")
    # Waiting on the lock would take the 60 s busy timeout (and then fail).
    assert took < 30, took


def test_a_lock_held_past_the_busy_timeout_is_the_documented_line(run, project: Project) -> None:
    import_people(run, project, 3)
    project.edit_config(DB_LINE, 'url = "sqlite:///subscribers.db"\nbusy_timeout_seconds = 1')
    with writer_holding_the_lock(db(project)):
        started = time.monotonic()
        result = run("subscribers", "add", "ana@example.com", "--timezone", "Asia/Baku")
        took = time.monotonic() - started
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: database is locked: waited 1 s (database.busy_timeout_seconds) for another process to release "
        f"{db(project)}; is another sender stuck?\n"
    )
    assert 1 <= took < 30, took
    assert run("subscribers", "count").stdout.splitlines()[-1] == "total\t3"


# -- a full disk ---------------------------------------------------------------------------


def ledger_states(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM ledger GROUP BY state").fetchall())


@pytest.mark.parametrize(("disk", "strerror"), [("full", "No space left on device"), ("ro", "Read-only file system")])
def test_a_full_or_read_only_outbox_stops_the_run_and_gives_the_rest_back(
    run, project: Project, disk: str, strerror: str
) -> None:
    n = 200  # some 25 messages fill 200 kB
    import_people(run, project, n)
    with mounted_tmpfs(project.outbox, "size=200k"):
        if disk == "ro":
            remount(project.outbox, "ro")
        result = run("send", "black-january", "reminder", "--year", "2027", "--yes")
        assert result.exit_code == 3, result.stderr
        assert only_error_lines(result.stderr) == [f"Error: cannot write to outbox {project.outbox}: {strerror}"]
        assert "Traceback" not in result.stderr
        written = len(project.emls())
        # What was written is sent; the rest is neither failed nor unknown but released:
        # no ledger row, so the next run sends it.
        assert ledger_states(db(project)) == ({"sent": written} if written else {})
        assert written < n and (written > 0) == (disk == "full")
        remount(project.outbox, "rw,size=20m")
        again = run("send", "black-january", "reminder", "--year", "2027", "--yes")
        assert (again.exit_code, only_error_lines(again.stderr)) == (0, [])
        emls = project.emls()
    assert ledger_states(db(project)) == {"sent": n}
    assert len(emls) == n
