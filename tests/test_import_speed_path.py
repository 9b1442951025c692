"""The import's streaming path: rows written a transaction at a time (made small here so
a file crosses many), repeats found across transactions, the counts exact, nobody's
status changed, a forgotten address left out through the suppression hook, progress
reported as the file is read. A real SQLite file throughout."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

import pytest
from conftest import Project

import scheduler.subscribers as people
from scheduler.config import load_config
from scheduler.store import Store
from scheduler.subscribers.seen import SeenAddresses

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people, "IMPORT_CHUNK", 3)


def _db(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / "subscribers.db")


def test_a_repeat_in_a_later_transaction_is_reported_with_the_first_line(
    run, project: Project, small_chunks: None
) -> None:
    rows = "".join(f"p{i}@example.com,P{i},en,UTC\n" for i in range(7)) + "P1@EXAMPLE.com,Again,en,UTC\n"
    path = project.write_csv(rows)
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "7 added, 0 updated, 0 unchanged, 1 rejected\n",
        f"Error: {path}:9: P1@example.com repeats line 3\n",
    )
    # Ids follow the file's order across transactions.
    got = _db(project).execute("select email from subscriber order by id").fetchall()
    assert [e for (e,) in got] == [f"p{i}@example.com" for i in range(7)]


def test_reimport_across_transactions_updates_only_what_changed_and_keeps_status(
    run, project: Project, small_chunks: None
) -> None:
    path = project.write_csv("".join(f"p{i}@example.com,P{i},en,UTC\n" for i in range(8)))
    assert run("subscribers", "import", str(path)).stdout == "8 added, 0 updated, 0 unchanged, 0 rejected\n"
    with _db(project) as db:
        db.execute("update subscriber set status = 'unsubscribed' where email in ('p2@example.com', 'p6@example.com')")
        db.execute("update subscriber set status = 'bounced' where email = 'p7@example.com'")
    before = dict(_db(project).execute("select email, consent_at from subscriber").fetchall())
    changed = "".join(
        f"P{i}@Example.com,{'New' if i in (2, 5) else f'P{i}'},{'az' if i == 7 else 'en'},UTC\n" for i in range(8)
    )
    path.write_text("email,name,language,timezone\n" + changed + "p8@example.com,P8,en,UTC\n", encoding="utf-8")
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (0, "1 added, 3 updated, 5 unchanged, 0 rejected\n")
    rows = (
        _db(project).execute("select email, name, language, status, consent_at from subscriber order by id").fetchall()
    )
    assert [r[:4] for r in rows] == [
        ("p0@example.com", "P0", "en", "active"),
        ("p1@example.com", "P1", "en", "active"),
        ("p2@example.com", "New", "en", "unsubscribed"),
        ("p3@example.com", "P3", "en", "active"),
        ("p4@example.com", "P4", "en", "active"),
        ("p5@example.com", "New", "en", "active"),
        ("p6@example.com", "P6", "en", "unsubscribed"),
        ("p7@example.com", "P7", "az", "bounced"),
        ("p8@example.com", "P8", "en", "active"),
    ]
    assert {r[0]: r[4] for r in rows[:8]} == before
    assert run("subscribers", "import", str(path)).stdout == "0 added, 0 updated, 9 unchanged, 0 rejected\n"


def test_a_suppressed_address_is_left_out_and_counted(project: Project, small_chunks: None) -> None:
    config = load_config(project.config)
    store = Store(config.database_url)
    path = project.write_csv("ana@example.com,Ana,en,UTC\nGone@Example.com,Gone,en,UTC\nbo@example.com,Bo,en,UTC\n")
    imported = people.import_csv(config, store, path, NOW, is_suppressed=lambda key: key == "gone@example.com")
    assert imported.counts == {"added": 2, "updated": 0, "unchanged": 0, "suppressed": 1}
    assert [r["email"] for r in store.iter_subscribers()] == ["ana@example.com", "bo@example.com"]


def test_progress_is_reported_per_transaction_and_ends_at_the_file_size(project: Project, small_chunks: None) -> None:
    config = load_config(project.config)
    path = project.write_csv("".join(f"p{i}@example.com,P{i},en,UTC\n" for i in range(7)) + "bad,X,en,UTC\n")
    calls: list[tuple[int, int, int]] = []
    imported = people.import_csv(config, Store(config.database_url), path, NOW, on_progress=lambda *a: calls.append(a))
    size = path.stat().st_size
    assert [c[0] for c in calls] == [3, 6, 7, 7]
    assert calls[-1] == (7, size, size)
    assert imported.report.errors == [f"{path}:9: invalid email 'bad': An email address must have an @-sign."]


def test_a_bad_header_is_refused_before_anything_is_written(run, project: Project) -> None:
    path = project.root / "bad.csv"
    path.write_text("mail,name\nana@example.com,Ana\n", encoding="utf-8")
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {path}:1: header must have the columns email,name,language,timezone (missing: email, language, "
        "timezone)\n",
    )


def test_seen_addresses_keeps_every_first_line_through_growth_and_reserve() -> None:
    seen = SeenAddresses(capacity=16)
    keys = [f"p{i}@example.com" for i in range(5000)]
    for line, key in enumerate(keys, start=2):
        assert seen.first_line(key, line) is None
        if line == 1000:
            seen.reserve(6000)
            assert seen.capacity == 8572
    assert len(seen) == 5000
    for line, key in random.Random(3).sample(list(enumerate(keys, start=2)), 500):
        assert seen.first_line(key, 99_999) == line
    assert len(seen) == 5000
