"""`anniversary subscribers ...` driven as a user does, against a real SQLite file."""

from __future__ import annotations

import csv
import io
import sqlite3

from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _db(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / "subscribers.db")


def test_add_then_count(run, project: Project) -> None:
    result = run(
        "subscribers", "add", "Ana@Example.COM", "--name", "Ana", "--language", "az", "--timezone", "Asia/Baku"
    )
    assert (result.exit_code, result.stdout) == (0, "Ana@example.com: added\n")
    assert run("subscribers", "count").stdout == "pending\t0\nactive\t1\nunsubscribed\t0\nbounced\t0\ntotal\t1\n"
    row = _db(project).execute("select email, status, consent_source from subscriber").fetchone()
    assert row == ("Ana@example.com", "active", "cli")


def test_email_is_unique_without_regard_to_case(run) -> None:
    run("subscribers", "add", "Ana@Example.com", "--timezone", "Asia/Baku")
    result = run("subscribers", "add", "ana@example.com", "--timezone", "Asia/Baku")
    assert result.stdout == "ana@example.com: unchanged\n"
    assert "total\t1" in run("subscribers", "count").stdout


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
        writer.writerows(data)
    run("subscribers", "import", str(src))
    exported = project.root / "exported.csv"
    run("subscribers", "export", str(exported))
    back = [
        (r["email"], r["name"], r["language"], r["timezone"]) for r in csv.DictReader(exported.open(encoding="utf-8"))
    ]
    assert back == [tuple(r) for r in data]
    assert (
        run("subscribers", "import", str(exported)).stdout == f"0 added, 0 updated, {len(data)} unchanged, 0 rejected\n"
    )
