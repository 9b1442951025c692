"""`anniversary subscribers ...` driven as a user does, against a real SQLite file."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_subscribers_roundtrip import as_written, spreadsheet_safe


def _db(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / "subscribers.db")


def test_add_then_count(run, project: Project) -> None:
    result = run(
        "subscribers", "add", "Ana@Example.COM", "--name", "Ana", "--language", "az", "--timezone", "Asia/Baku"
    )
    assert (result.exit_code, result.stdout) == (0, "Ana@example.com: added\n")
    assert run("subscribers", "count").stdout == (
        "pending\t0\nactive\t1\nunsubscribed\t0\nbounced\t0\ncomplained\t0\nforgotten\t0\ntotal\t1\n"
    )
    row = _db(project).execute("select email, status, consent_source from subscriber").fetchone()
    assert row == ("Ana@example.com", "active", "cli")


def test_email_is_unique_without_regard_to_case(run, project: Project) -> None:
    assert run("subscribers", "add", "ana@example.com", "--timezone", "Asia/Baku").stdout == "ana@example.com: added\n"
    # The address as stored, not as typed: that is the spelling `remove` and `list` show.
    result = run("subscribers", "add", "ANA@Example.COM", "--timezone", "Asia/Baku")
    assert (result.exit_code, result.stdout) == (0, "ana@example.com: unchanged\n")
    result = run("subscribers", "add", "ANA@Example.COM", "--name", "Ana", "--timezone", "Asia/Baku")
    assert (result.exit_code, result.stdout) == (0, "ana@example.com: updated\n")
    assert "total\t1" in run("subscribers", "count").stdout
    assert _db(project).execute("select email, name from subscriber").fetchall() == [("ana@example.com", "Ana")]


def test_add_never_changes_status_or_consent(run, project: Project) -> None:
    run("subscribers", "add", "ana@example.com", "--timezone", "Asia/Baku")
    # As the unsubscribe page would: status changes only through its own path.
    with _db(project) as db:
        db.execute("update subscriber set status = 'unsubscribed'")
    before = _db(project).execute("select status, consent_at, consent_source from subscriber").fetchone()
    result = run("subscribers", "add", "Ana@example.com", "--name", "Ana", "--timezone", "Europe/Berlin")
    assert (result.exit_code, result.stdout) == (0, "ana@example.com: updated\n")
    assert _db(project).execute("select status, consent_at, consent_source from subscriber").fetchone() == before


def test_add_rejects_bad_zone_and_email(run) -> None:
    result = run("subscribers", "add", "ana@example.com", "--timezone", "Mars/Base")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: timezone must be an IANA time zone such as Asia/Baku or America/Los_Angeles (got 'Mars/Base')\n",
    )
    result = run("subscribers", "add", "not-an-email", "--timezone", "Asia/Baku")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: invalid email 'not-an-email':")


def test_import_reports_each_bad_row_and_imports_the_good(run, project: Project) -> None:
    path = project.write_csv(
        "leyla@example.com,Leyla,az,Asia/Baku\n"
        "broken-address,Bad,en,Europe/Berlin\n"
        "john@example.com,John,en,America/Los_Angeles\n"
        "zoe@example.com,Zoe,en,Europe/Atlantis\n"
        "LEYLA@example.com,Leyla again,az,Asia/Baku\n"
        "kim@example.com,Kim,ko,Asia/Seoul\n"
    )
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 1
    assert result.stdout == "3 added, 0 updated, 0 unchanged, 3 rejected\n"
    err = result.stderr.splitlines()
    assert err[0] == f"Warning: {path}:7: language 'ko' is not one of en, az, ru, tr; using 'en'"
    assert err[1].startswith(f"Error: {path}:3: invalid email 'broken-address'")
    assert (
        err[2]
        == f"Error: {path}:5: timezone must be an IANA time zone such as Asia/Baku or America/Los_Angeles (got 'Europe/Atlantis')"
    )
    assert err[3] == f"Error: {path}:6: LEYLA@example.com repeats line 2"
    langs = dict(_db(project).execute("select email, language from subscriber").fetchall())
    assert langs == {"leyla@example.com": "az", "john@example.com": "en", "kim@example.com": "en"}


def test_reimport_changes_nothing_and_updates_what_changed(run, project: Project) -> None:
    path = project.write_csv("a@example.com,A,en,Europe/Berlin\nb@example.com,B,az,Asia/Baku\n")
    assert run("subscribers", "import", str(path)).stdout == "2 added, 0 updated, 0 unchanged, 0 rejected\n"
    before = _db(project).execute("select * from subscriber order by id").fetchall()
    assert run("subscribers", "import", str(path)).stdout == "0 added, 0 updated, 2 unchanged, 0 rejected\n"
    assert _db(project).execute("select * from subscriber order by id").fetchall() == before
    path = project.write_csv("a@example.com,A,en,Europe/Berlin\nB@example.com,Bə,ru,Europe/Moscow\n")
    assert run("subscribers", "import", str(path)).stdout == "0 added, 1 updated, 1 unchanged, 0 rejected\n"
    row = (
        _db(project)
        .execute("select name, language, timezone from subscriber where email_key='b@example.com'")
        .fetchone()
    )
    assert row == ("Bə", "ru", "Europe/Moscow")


CONSENT_HEADER = "email,name,language,timezone,status,consent_at,consent_source\n"


def _consent_csv(project: Project, rows: str, name: str = "consent.csv") -> Path:
    path = project.root / name
    path.write_text(CONSENT_HEADER + rows, encoding="utf-8")
    return path


def _consent(project: Project) -> dict[str, tuple[str, str, str]]:
    rows = _db(project).execute("select email, status, consent_at, consent_source from subscriber order by id")
    return {email: (status, at, source) for email, status, at, source in rows}


def test_import_takes_status_and_consent_for_new_subscribers(run, project: Project) -> None:
    path = _consent_csv(
        project,
        "a@example.com,A,en,UTC,unsubscribed,2021-03-04T05:06:07.891011+00:00,web\n"
        "b@example.com,B,en,UTC,Bounced,2022-01-01T12:00:00+04:00,import\n"
        "c@example.com,C,en,UTC,pending,2023-06-30T23:59:59Z,sign-up form\n"
        "d@example.com,D,en,UTC,,,\n",
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "4 added, 0 updated, 0 unchanged, 0 rejected\n", "")
    got = _consent(project)
    # Times are kept as the instant they name, in UTC; empty cells take today's defaults.
    assert {k: v for k, v in got.items() if k != "d@example.com"} == {
        "a@example.com": ("unsubscribed", "2021-03-04 05:06:07.891011", "web"),
        "b@example.com": ("bounced", "2022-01-01 08:00:00.000000", "import"),
        "c@example.com": ("pending", "2023-06-30 23:59:59.000000", "sign-up form"),
    }
    status, _, source = got["d@example.com"]
    assert (status, source) == ("active", "import")
    assert "active\t1\nunsubscribed\t1\nbounced\t1" in run("subscribers", "count").stdout


def test_import_reports_bad_status_and_consent_with_their_line(run, project: Project) -> None:
    path = _consent_csv(
        project,
        "a@example.com,A,en,UTC,gone,,\n"
        "b@example.com,B,en,UTC,active,2022-01-01T12:00:00,\n"
        "c@example.com,C,en,UTC,active,yesterday,\n"
        "d@example.com,D,en,UTC,active,2022-01-01,\n"
        "e@example.com,E,en,UTC,active,2022-01-01T12:00:00+00:00,web\n",
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (1, "1 added, 0 updated, 0 unchanged, 4 rejected\n")
    wanted = "must be an ISO 8601 time with a UTC offset such as 2024-05-01T09:30:00+00:00"
    assert result.stderr.splitlines() == [
        f"Error: {path}:2: status must be one of pending, active, unsubscribed, bounced, complained (got 'gone')",
        f"Error: {path}:3: consent_at {wanted} (got '2022-01-01T12:00:00')",
        f"Error: {path}:4: consent_at {wanted} (got 'yesterday')",
        f"Error: {path}:5: consent_at {wanted} (got '2022-01-01')",
    ]
    assert _consent(project) == {"e@example.com": ("active", "2022-01-01 12:00:00.000000", "web")}


def test_import_never_changes_an_existing_subscribers_status(run, project: Project) -> None:
    path = project.write_csv("a@example.com,A,en,UTC\nb@example.com,B,en,UTC\nc@example.com,C,en,UTC\n")
    run("subscribers", "import", str(path))
    # As the unsubscribe page and the bounce handler would.
    with _db(project) as db:
        db.execute("update subscriber set status = 'unsubscribed' where email_key = 'a@example.com'")
        db.execute("update subscriber set status = 'bounced' where email_key = 'b@example.com'")
    before = _consent(project)
    path = _consent_csv(
        project,
        "A@example.com,A,en,UTC,active,2030-01-01T00:00:00+00:00,web\n"
        "b@example.com,Bea,az,Asia/Baku,active,,\n"
        "c@example.com,C,en,UTC,unsubscribed,,\n",
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (0, "0 added, 1 updated, 2 unchanged, 0 rejected\n")
    assert _consent(project) == before
    assert _db(project).execute("select name, language, timezone from subscriber where id = 2").fetchone() == (
        "Bea",
        "az",
        "Asia/Baku",
    )
    assert run("subscribers", "import", str(path)).stdout == "0 added, 0 updated, 3 unchanged, 0 rejected\n"
    assert _consent(project) == before


def test_import_ignores_extra_columns_and_needs_the_header(run, project: Project) -> None:
    path = project.root / "extra.csv"
    path.write_text("timezone,email,notes,language,name\nAsia/Baku,x@example.com,hi,az,X\n", encoding="utf-8")
    assert run("subscribers", "import", str(path)).stdout == "1 added, 0 updated, 0 unchanged, 0 rejected\n"
    bad = project.root / "bad.csv"
    bad.write_text("mail,name\nx@example.com,X\n", encoding="utf-8")
    result = run("subscribers", "import", str(bad))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {bad}:1: header must have the columns email,name,language,timezone (missing: email, language, timezone)\n",
    )


def test_name_with_line_break_is_folded(run, project: Project) -> None:
    path = project.root / "nl.csv"
    path.write_text(
        'email,name,language,timezone\nx@example.com,"Evil\r\nBcc: victim@example.com",en,UTC\n', encoding="utf-8"
    )
    run("subscribers", "import", str(path))
    assert _db(project).execute("select name from subscriber").fetchone() == ("Evil Bcc: victim@example.com",)


def test_export_list_remove(run, project: Project) -> None:
    path = project.write_csv("a@example.com,Ä,az,Asia/Baku\nb@example.com,,en,UTC\n")
    run("subscribers", "import", str(path))
    exported = run("subscribers", "export").stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["email"], r["name"], r["language"], r["timezone"], r["status"], r["consent_source"]) for r in rows] == [
        ("a@example.com", "Ä", "az", "Asia/Baku", "active", "import"),
        ("b@example.com", "", "en", "UTC", "active", "import"),
    ]
    assert (
        run("subscribers", "list").stdout
        == "a@example.com\tÄ\taz\tAsia/Baku\tactive\nb@example.com\t\ten\tUTC\tactive\n"
    )
    assert run("subscribers", "remove", "A@Example.com").stdout == "a@example.com: removed\n"
    result = run("subscribers", "remove", "a@example.com")
    assert (result.exit_code, result.stderr) == (2, "Error: no subscriber 'a@example.com'\n")


names = st.text(st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=30).map(
    lambda s: " ".join(s.split())
)
rows = st.lists(
    st.tuples(
        st.from_regex(r"[a-z][a-z0-9]{0,8}(\.[a-z0-9]{1,5})?@example\.(com|org|az)", fullmatch=True),
        names,
        st.sampled_from(["en", "az", "ru", "tr"]),
        st.sampled_from(["Asia/Baku", "America/Los_Angeles", "Europe/Berlin", "Australia/Sydney", "UTC"]),
    ),
    max_size=8,
    unique_by=lambda r: r[0].lower(),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_export_imports_back_unchanged(run, project: Project, data: list[tuple[str, str, str, str]]) -> None:
    (project.root / "subscribers.db").unlink(missing_ok=True)
    src = project.root / "round.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name", "language", "timezone"])
        writer.writerows([[spreadsheet_safe(c) for c in r] for r in data])
    run("subscribers", "import", str(src))
    exported = project.root / "exported.csv"
    run("subscribers", "export", str(exported))
    back = [
        tuple(as_written(r[c]) for c in ("email", "name", "language", "timezone"))
        for r in csv.DictReader(exported.open(encoding="utf-8"))
    ]
    assert back == [tuple(r) for r in data]
    assert (
        run("subscribers", "import", str(exported)).stdout == f"0 added, 0 updated, {len(data)} unchanged, 0 rejected\n"
    )
