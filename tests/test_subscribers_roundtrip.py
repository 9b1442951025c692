"""`subscribers export` then `subscribers import` into an empty database restores every
subscriber exactly, status and consent included, driven as a user does."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COLUMNS = "email, name, language, timezone, status, consent_at, consent_source, region"
HEADER = "email,name,language,timezone,status,consent_at,consent_source,region\n"


def _restored_config(project: Project) -> Path:
    """A second config beside the first, on another (empty) database."""
    text = project.config.read_text(encoding="utf-8")
    assert 'url = "sqlite:///subscribers.db"' in text
    path = project.root / "restored.toml"
    path.write_text(text.replace("sqlite:///subscribers.db", "sqlite:///restored.db", 1), encoding="utf-8")
    return path


def _people(db: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"select {COLUMNS} from subscriber order by id").fetchall()


def test_export_restores_status_and_consent_into_an_empty_database(run, project: Project) -> None:
    path = project.write_csv("ana@example.com,Ana,az,Asia/Baku\nJo@Example.org,Jo,en,America/Los_Angeles\n")
    run("subscribers", "import", str(path))
    more = project.root / "more.csv"
    more.write_text(
        HEADER
        + "ben@example.com,Ben,ru,Europe/Moscow,bounced,2020-02-29T23:30:00.5-03:00,web,us-ny\n"
        + "cy@example.com,Cy,tr,UTC,pending,2024-05-01T09:30:00+00:00,sign-up form,\n",
        encoding="utf-8",
    )
    run("subscribers", "import", str(more))
    # As the unsubscribe page would.
    with sqlite3.connect(project.root / "subscribers.db") as conn:
        conn.execute("update subscriber set status = 'unsubscribed' where email_key = 'jo@example.org'")
    imported_at = {row[0]: row[5] for row in _people(project.root / "subscribers.db")}

    backup = project.root / "backup.csv"
    assert run("subscribers", "export", str(backup)).exit_code == 0
    assert backup.read_text(encoding="utf-8") == (
        HEADER
        + f"ana@example.com,Ana,az,Asia/Baku,active,{_iso(imported_at['ana@example.com'])},import,\n"
        + f"Jo@example.org,Jo,en,America/Los_Angeles,unsubscribed,{_iso(imported_at['Jo@example.org'])},import,\n"
        + "ben@example.com,Ben,ru,Europe/Moscow,bounced,2020-03-01T02:30:00.500000+00:00,web,US-NY\n"
        + "cy@example.com,Cy,tr,UTC,pending,2024-05-01T09:30:00+00:00,sign-up form,\n"
    )

    restored = _restored_config(project)
    result = run("subscribers", "import", str(backup), config=restored)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "4 added, 0 updated, 0 unchanged, 0 rejected\n", "")
    assert _people(project.root / "restored.db") == _people(project.root / "subscribers.db")
    assert run("subscribers", "export", config=restored).stdout == backup.read_text(encoding="utf-8")
    assert run("subscribers", "count", config=restored).stdout == (
        "pending\t1\nactive\t1\nunsubscribed\t1\nbounced\t1\ncomplained\t0\nforgotten\t0\ntotal\t4\n"
    )
    # Restoring twice changes nothing, and never re-activates anyone.
    result = run("subscribers", "import", str(backup), config=restored)
    assert result.stdout == "0 added, 0 updated, 4 unchanged, 0 rejected\n"
    assert _people(project.root / "restored.db") == _people(project.root / "subscribers.db")


def _iso(stored: str) -> str:
    """SQLite's text for a UTC time, as the export writes it."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).isoformat()


#: README, Subscribers: a cell that starts with = + - @, TAB or CR, after any run of ',
#: is a formula to a spreadsheet; the export writes it with one more ' in front.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A cell as the export must write it."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_START) else value


def as_written(value: str) -> str:
    """What the import must make of a cell: one ' fewer on an escaped one."""
    return value[1:] if value.startswith("'") and value.lstrip("'").startswith(FORMULA_START) else value


plain_names = st.text(st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=20)
# Names a spreadsheet would run, and names that look escaped already ('=..., ''@...).
formula_names = st.tuples(
    st.sampled_from(["=", "+", "-", "@", "'=", "''+", "'-", "'@", "'", "''", "=cmd|' /C calc'!A0"]), plain_names
).map("".join)
names = st.one_of(plain_names, formula_names).map(lambda s: " ".join(s.split()))
offsets = st.sampled_from([UTC, timezone(timedelta(hours=4)), timezone(-timedelta(hours=9, minutes=30))])
people = st.lists(
    st.tuples(
        st.from_regex(r"[-+=]?[a-z][a-z0-9]{0,8}@example\.(com|org|az)", fullmatch=True),
        names,
        st.sampled_from(["en", "az", "ru", "tr"]),
        st.sampled_from(["Asia/Baku", "America/Los_Angeles", "Australia/Sydney", "UTC"]),
        st.sampled_from(["pending", "active", "unsubscribed", "bounced"]),
        st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31), timezones=offsets),
        names.filter(bool),
    ),
    max_size=6,
    unique_by=lambda r: r[0],
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people)
def test_any_export_restores_exactly(run, project: Project, data: list[tuple]) -> None:
    restored = _restored_config(project)
    for db in ("subscribers.db", "restored.db"):
        (project.root / db).unlink(missing_ok=True)
    src = project.root / "people.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        # Written as the export writes them: an import takes one ' off an escaped cell.
        cells = [[spreadsheet_safe(c) for c in (*r[:5], r[5].isoformat(), r[6])] + [""] for r in data]
        csv.writer(fh).writerows([HEADER.strip().split(","), *cells])
    assert run("subscribers", "import", str(src)).exit_code == 0
    # Stored as given: no escape quote is left in the database.
    assert [(*p[:5], p[6], p[7]) for p in _people(project.root / "subscribers.db")] == [(*r[:5], r[6], None) for r in data]
    exported = run("subscribers", "export").stdout
    written = list(csv.reader(io.StringIO(exported)))[1:]
    assert [r[:5] + r[6:] for r in written] == [r[:5] + r[6:] for r in cells]  # consent_at comes back in UTC
    back = [[as_written(c) for c in r] for r in written]
    assert [(*r[:5], datetime.fromisoformat(r[5]), r[6]) for r in back] == data  # aware datetimes compare as instants
    assert {r[7] for r in back} <= {""}
    backup = project.root / "backup.csv"
    backup.write_text(exported, encoding="utf-8")
    result = run("subscribers", "import", str(backup), config=restored)
    assert result.stdout == f"{len(data)} added, 0 updated, 0 unchanged, 0 rejected\n"
    assert run("subscribers", "export", config=restored).stdout == exported
    assert _people(project.root / "restored.db") == _people(project.root / "subscribers.db")
